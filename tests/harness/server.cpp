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
#include "harness/kept.hpp"
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
    Fd devnull(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    Kept kept(binary, args, devnull.get(), out.write_end.get(), err.write_end.get());
    out.write_end.reset();
    err.write_end.reset();
    auto deadline = Clock::now() + timeout;
    std::optional<Clock::time_point> exited_at;
    std::optional<int> status;
    ChildOutput output(out.read_end.get(), err.read_end.get());
    while (!output.done()) {
        if (!exited_at && (status = kept.status_of(kept.launched()))) {
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
    if (!status) {
        auto left = std::max(deadline - Clock::now(), Clock::duration::zero());
        status = kept.wait_for(kept.launched(),
                               std::chrono::duration_cast<std::chrono::milliseconds>(left));
    }
    if (!status) {
        result.timed_out = true;
        ::kill(kept.launched(), SIGKILL);
        status = kept.wait_for(kept.launched(), std::chrono::seconds(5));
    }
    result.exit_code = status ? decode_status(*status) : -1;
    // A process that goes on once the launched one has exited (a daemon that started although
    // it should have refused) is left running; give the rest a moment to finish exiting.
    eventually([&] { return kept.processes().empty(); }, std::chrono::seconds(1));
    result.left_running = kept.processes();
    return result;  // ~Kept kills whatever it left running (a daemon that should have refused)
}

Server::Server(std::vector<std::string> args, std::string binary, const std::vector<int>& pass) {
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
    Fd log_fd(::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
    Fd devnull(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    kept_ = std::make_unique<Kept>(binary, args, devnull.get(), out.write_end.get(), log_fd.get(),
                                   pass);
    launched_ = kept_->launched();
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
    // The keeper reaps the master (its child, or an orphan handed to it) and reports the status.
    if (std::optional<int> status = kept_->status_of(pid_)) {
        reaped_ = true;
        exit_code_ = decode_status(*status);
        return true;
    }
    return false;
}

std::optional<int> Server::exit_of(pid_t pid, std::chrono::milliseconds timeout) {
    std::optional<int> status = kept_ ? kept_->wait_for(pid, timeout) : std::nullopt;
    return status ? std::optional<int>(decode_status(*status)) : std::nullopt;
}

pid_t Server::keeper_pid() const {
    return kept_ ? kept_->keeper() : -1;
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
    if (!kept_) {
        return;
    }
    if (pid_ > 0 && !exited()) {
        stop(SIGTERM);
    }
    // The master has exited: its workers must be gone too (give them a moment to finish dying).
    // Everything it started is below the keeper, daemons and orphans included.
    if (!eventually([&] { return kept_->processes().empty(); }, std::chrono::seconds(3))) {
        std::ostringstream names;
        for (pid_t pid : kept_->processes()) {
            auto s = proc_stat(pid);
            names << " " << pid << "(" << (s ? s->comm : "?") << ", ppid " << (s ? s->ppid : 0)
                  << ")";
        }
        ADD_FAILURE() << "processes left behind after the server exited:" << names.str();
    }
    kept_->end();  // kills whatever is left
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
    kept_.reset();
}

}  // namespace forklab::test
