/// \file
/// \brief Starting servers and cleaning up after them.
#include "harness/server.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <regex>
#include <sstream>

#include "forklab/error.hpp"
#include "forklab/fd.hpp"
#include "harness/proc.hpp"
#include "harness/wait.hpp"

namespace forklab::test {

namespace {

using Clock = std::chrono::steady_clock;

std::string make_temp_dir() {
    const char* base = std::getenv("TMPDIR");
    std::string templ =
        std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/forklab-test-XXXXXX";
    if (::mkdtemp(templ.data()) == nullptr) {
        throw_errno("mkdtemp " + templ);
    }
    return templ;
}

/// exec()s \p binary with \p args; only returns (with _exit) on failure. Runs in a child.
[[noreturn]] void exec_or_die(const std::string& binary, const std::vector<std::string>& args) {
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(binary.c_str()));
    for (const std::string& a : args) {
        argv.push_back(const_cast<char*>(a.c_str()));
    }
    argv.push_back(nullptr);
    ::execv(binary.c_str(), argv.data());
    std::string msg = "exec " + binary + ": " + std::strerror(errno) + "\n";
    [[maybe_unused]] ssize_t n = ::write(STDERR_FILENO, msg.data(), msg.size());
    ::_exit(127);
}

int decode(int status) {
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/// Reaps every ended child of the test process (launchers, and orphans handed to us as subreaper).
void reap_all() {
    while (::waitpid(-1, nullptr, WNOHANG) > 0) {
    }
}

}  // namespace

std::string server_binary() {
    const char* path = std::getenv("FORKLAB_SERVER");
    return path != nullptr ? path : "";
}

bool ChildOutput::read_some(std::chrono::milliseconds wait) {
    pollfd fds[2] = {{open_[0] ? fds_[0] : -1, POLLIN, 0}, {open_[1] ? fds_[1] : -1, POLLIN, 0}};
    if (::poll(fds, 2, static_cast<int>(wait.count())) > 0) {
        char buf[4096];
        for (int i = 0; i < 2; ++i) {
            if (fds[i].revents == 0) {
                continue;
            }
            ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
            if (n > 0) {
                (i == 0 ? out : err).append(buf, static_cast<std::size_t>(n));
            } else if (n == 0 || errno != EINTR) {
                open_[i] = false;
            }
        }
    }
    return done();
}

RunResult run(const std::string& binary, const std::vector<std::string>& args,
              std::chrono::milliseconds timeout) {
    RunResult result;
    Pipe out = make_pipe();
    Pipe err = make_pipe();
    pid_t pid = ::fork();
    if (pid == -1) {
        throw_errno("fork");
    }
    if (pid == 0) {
        ::dup2(out.write_end.get(), STDOUT_FILENO);
        ::dup2(err.write_end.get(), STDERR_FILENO);
        int devnull = ::open("/dev/null", O_RDONLY);
        ::dup2(devnull, STDIN_FILENO);
        exec_or_die(binary, args);
    }
    out.write_end.reset();
    err.write_end.reset();
    auto deadline = Clock::now() + timeout;
    std::optional<Clock::time_point> exited_at;
    int status = 0;
    ChildOutput output(out.read_end.get(), err.read_end.get());
    while (!output.done()) {
        if (!exited_at && ::waitpid(pid, &status, WNOHANG) == pid) {
            exited_at = Clock::now();
        }
        // After the process exits, a descendant may still hold the pipes (a daemon): stop soon.
        if ((exited_at && Clock::now() - *exited_at > std::chrono::milliseconds(500)) ||
            Clock::now() > deadline) {
            break;
        }
        output.read_some(std::chrono::milliseconds(10));
    }
    result.out = std::move(output.out);
    result.err = std::move(output.err);
    if (!exited_at) {
        if (!eventually([&] { return ::waitpid(pid, &status, WNOHANG) == pid; },
                        std::chrono::milliseconds(std::max<long>(
                            0, std::chrono::duration_cast<std::chrono::milliseconds>(deadline -
                                                                                     Clock::now())
                                   .count())))) {
            result.timed_out = true;
            ::kill(pid, SIGKILL);
            ::waitpid(pid, &status, 0);
        }
    }
    result.exit_code = decode(status);
    return result;
}

Server::Server(std::vector<std::string> args, std::string binary) {
    if (binary.empty()) {
        ADD_FAILURE() << "FORKLAB_SERVER is not set: run the tests through ctest or a grade target";
        return;
    }
    dir_ = make_temp_dir();
    log_path_ = dir_ + "/stderr.log";
    bool has_listen = false;
    for (std::size_t i = 0; i < args.size(); ++i) {
        has_listen = has_listen || args[i].rfind("--listen", 0) == 0;
        if (args[i] == "--log-file" && i + 1 < args.size()) {
            log_file_ = args[i + 1];  // a daemon's stderr is /dev/null: its log is there
        } else if (args[i].rfind("--log-file=", 0) == 0) {
            log_file_ = args[i].substr(std::strlen("--log-file="));
        }
    }
    if (!has_listen) {
        args.insert(args.begin(), {"--listen", "127.0.0.1:0"});
    }
    Pipe out = make_pipe();
    launched_ = ::fork();
    if (launched_ == -1) {
        throw_errno("fork");
    }
    if (launched_ == 0) {
        ::setpgid(0, 0);
        ::dup2(out.write_end.get(), STDOUT_FILENO);
        int log = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
        ::dup2(log, STDERR_FILENO);
        int devnull = ::open("/dev/null", O_RDONLY);
        ::dup2(devnull, STDIN_FILENO);
        exec_or_die(binary, args);
    }
    ::setpgid(launched_, launched_);  // also here: whichever runs first, the group exists
    out.write_end.reset();

    // The readiness line: "forklab: listening on HOST:PORT pid PID".
    std::string line;
    auto deadline = Clock::now() + std::chrono::seconds(10);
    while (line.find('\n') == std::string::npos && Clock::now() < deadline) {
        pollfd p{out.read_end.get(), POLLIN, 0};
        if (::poll(&p, 1, 20) <= 0) {
            continue;
        }
        char buf[256];
        ssize_t n = ::read(out.read_end.get(), buf, sizeof buf);
        if (n <= 0) {
            break;
        }
        line.append(buf, static_cast<std::size_t>(n));
    }
    static const std::regex ready(R"(^forklab: listening on (\S+):(\d+) pid (\d+)\n)");
    std::smatch m;
    if (!std::regex_search(line, m, ready)) {
        ADD_FAILURE() << "no readiness line from " << binary << "; stdout: '" << line << "'; log:\n"
                      << log();
        return;
    }
    port_ = std::stoi(m[2]);
    pid_ = static_cast<pid_t>(std::stol(m[3]));
    // A daemon lives in a session of its own: remember it to find what it leaves behind.
    pid_t session = proc_stat(pid_).value_or(ProcStat{}).session;
    session_ = session != ::getsid(0) ? session : 0;
}

Server::~Server() {
    cleanup();
}

std::string Server::log() const {
    std::string text;
    for (const std::string* path : {&log_path_, &log_file_}) {
        text += slurp(*path);  // "" for a --log-file the server was not given
    }
    return text;
}

void Server::signal(int sig) const {
    if (pid_ > 0) {
        ::kill(pid_, sig);
    }
}

bool Server::exited() {
    if (reaped_ || pid_ <= 0) {
        return true;
    }
    int status = 0;
    pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
        reaped_ = true;
        exit_code_ = decode(status);
        return true;
    }
    if (r == -1 && errno == ECHILD && !alive(pid_)) {
        if (proc_stat(pid_)) {
            return false;  // a zombie whose parent (a daemon's launcher) is about to hand it to us
        }
        reaped_ = true;  // not our child (a daemon before it was handed to us): gone all the same
        return true;
    }
    return false;
}

int Server::stop(int sig, std::chrono::milliseconds timeout) {
    if (exited()) {
        return exit_code_;
    }
    signal(sig);
    if (eventually([&] { return exited(); }, timeout)) {
        return exit_code_;
    }
    ADD_FAILURE() << "server pid " << pid_ << " did not exit within " << timeout.count()
                  << " ms of signal " << sig << "; killing it. Log:\n"
                  << log();
    ::kill(pid_, SIGKILL);
    eventually([&] { return exited(); }, std::chrono::seconds(5));
    return -1;
}

void Server::cleanup() {
    if (launched_ <= 0) {
        return;
    }
    pid_t group = launched_;
    if (pid_ > 0 && !exited()) {
        stop(SIGTERM);
    }
    reap_all();
    auto leftovers = [&] {
        std::vector<ProcStat> left;
        for (const ProcStat& s : all_processes()) {
            bool ours = s.pgrp == group || (session_ > 0 && s.session == session_);
            if (ours && s.state != 'Z' && s.pid != ::getpid()) {
                left.push_back(s);
            }
        }
        return left;
    };
    // The master has exited: its workers must be gone too (give them a moment to finish dying).
    if (!eventually([&] { return leftovers().empty(); }, std::chrono::seconds(3))) {
        std::ostringstream names;
        for (const ProcStat& s : leftovers()) {
            names << " " << s.pid << "(" << s.comm << ", ppid " << s.ppid << ")";
            ::kill(s.pid, SIGKILL);
        }
        ADD_FAILURE() << "processes left behind after the server exited:" << names.str();
        eventually([&] { return leftovers().empty(); }, std::chrono::seconds(5));
    }
    reap_all();
    if (!allow_crashes_) {
        static const std::regex crash(
            R"(killed by signal|AddressSanitizer|LeakSanitizer|runtime error:|terminate called)");
        std::istringstream lines(log());
        for (std::string l; std::getline(lines, l);) {
            EXPECT_FALSE(std::regex_search(l, crash)) << "crash reported in the log: " << l;
        }
    }
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
    launched_ = -1;
}

}  // namespace forklab::test
