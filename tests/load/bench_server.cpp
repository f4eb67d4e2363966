/// \file
/// \brief Starting and stopping the bench's servers.
#include "bench_server.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <csignal>
#include <optional>
#include <thread>

#include "01_fork_server/spawn.hpp"
#include "forklab/error.hpp"
#include "forklab/fd.hpp"

namespace forklab::load {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr milliseconds ready_limit = std::chrono::seconds(10);

/// Milliseconds left until \p deadline, at least 0.
int left_ms(Clock::time_point deadline) {
    auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
    return left > 0 ? static_cast<int>(left) : 0;
}

/// Reads from \p fd until a newline, end-of-file or \p deadline. Returns what it read.
std::string read_line(int fd, Clock::time_point deadline) {
    std::string text;
    // Bounded by the deadline: poll never waits past it, and each read returns at once.
    while (text.find('\n') == std::string::npos && text.size() < 4096) {
        pollfd p{fd, POLLIN, 0};
        int r = ::poll(&p, 1, left_ms(deadline));
        if (r == -1 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            break;  // the deadline passed
        }
        char buf[256];
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n == -1 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break;  // end-of-file: the server closed stdout or died
        }
        text.append(buf, static_cast<std::size_t>(n));
    }
    return text;
}

/// In a child of the bench, before exec: its own process group, told to stop if the bench dies,
/// stdin and stdout from \p in and \p out, the signal mask and SIGPIPE as a fresh program expects.
/// Only async-signal-safe calls. Returns false when the bench died first.
bool prepare_child(pid_t parent, int in, int out) {
    ::setpgid(0, 0);
    // If the bench dies, the child is told to stop: nothing outlives a failed run.
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent) {
        return false;  // the bench died before prctl took effect
    }
    ::dup2(in, STDIN_FILENO);
    ::dup2(out, STDOUT_FILENO);
    sigset_t none;
    ::sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::signal(SIGPIPE, SIG_DFL);  // the bench ignores it; a program decides for itself
    return true;
}

/// argv as execv wants it; the strings must outlive the result.
std::vector<char*> exec_args(std::vector<std::string>& args) {
    std::vector<char*> argv;
    for (std::string& a : args) {
        argv.push_back(a.data());
    }
    argv.push_back(nullptr);
    return argv;
}

[[noreturn]] void exec_or_exit(char* const* argv) {
    ::execv(argv[0], argv);
    constexpr char failed[] = "bench: exec failed\n";
    (void)!::write(STDERR_FILENO, failed, sizeof failed - 1);
    ::_exit(127);
}

}  // namespace

bool run_to_end(const std::vector<std::string>& command, std::chrono::milliseconds limit,
                std::string& out, std::string& error) {
    Pipe pipe = make_pipe();
    Fd null(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    if (!null) {
        throw_errno("open /dev/null");
    }
    std::vector<std::string> args = command;
    std::vector<char*> argv = exec_args(args);
    pid_t parent = ::getpid();
    pid_t pid = ::fork();
    if (pid == -1) {
        throw_errno("fork " + command.at(0));
    }
    if (pid == 0) {
        if (!prepare_child(parent, null.get(), pipe.write_end.get())) {
            ::_exit(127);
        }
        exec_or_exit(argv.data());
    }
    (void)::setpgid(pid, pid);
    pipe.write_end.reset();
    auto deadline = Clock::now() + limit;
    out.clear();
    bool late = false;
    // Bounded by the deadline: poll never waits past it; then the group is killed.
    for (;;) {
        pollfd p{pipe.read_end.get(), POLLIN, 0};
        int r = ::poll(&p, 1, left_ms(deadline));
        if (r == -1 && errno == EINTR) {
            continue;
        }
        if (r == 0) {
            late = true;
            (void)::kill(-pid, SIGKILL);
            break;
        }
        char buf[4096];
        ssize_t n = ::read(pipe.read_end.get(), buf, sizeof buf);
        if (n == -1 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break;  // end-of-file: it exited (or closed its stdout)
        }
        out.append(buf, static_cast<std::size_t>(n));
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) == -1 && errno == EINTR) {
    }
    ch01::ChildExit end{pid, status};
    if (late) {
        error = "ran longer than " + std::to_string(limit.count() / 1000) + " s: killed";
        return false;
    }
    if (!end.clean()) {
        error = end.describe();
        return false;
    }
    return true;
}

bool parse_readiness(const std::string& line, Endpoint& endpoint, pid_t& pid) {
    const std::string prefix = "forklab: listening on ";
    std::string text = line.substr(0, line.find('\n'));
    std::size_t at_pid = text.rfind(" pid ");
    if (text.rfind(prefix, 0) != 0 || at_pid == std::string::npos || at_pid < prefix.size()) {
        return false;
    }
    auto parsed = parse_endpoint(text.substr(prefix.size(), at_pid - prefix.size()));
    std::string digits = text.substr(at_pid + 5);
    long value = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    if (!parsed || parsed->port == 0 || ec != std::errc() || end != digits.data() + digits.size() ||
        value <= 0) {
        return false;
    }
    endpoint = *parsed;
    pid = static_cast<pid_t>(value);
    return true;
}

BenchServer::BenchServer(std::string binary, std::vector<std::string> extra_args,
                         std::string log_path)
    : binary_(std::move(binary)), log_path_(std::move(log_path)) {
    args_ = {binary_, "--listen", "127.0.0.1:0"};
    args_.insert(args_.end(), extra_args.begin(), extra_args.end());
}

BenchServer::~BenchServer() {
    stop();
}

bool BenchServer::start() {
    Pipe out = make_pipe();
    Fd log(::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    if (!log) {
        throw_errno("open " + log_path_);
    }
    Fd null(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    if (!null) {
        throw_errno("open /dev/null");
    }
    // Everything the child needs is ready before fork: it only calls async-signal-safe functions.
    std::vector<char*> argv = exec_args(args_);
    pid_t parent = ::getpid();
    launched_ = ::fork();
    if (launched_ == -1) {
        throw_errno("fork " + binary_);
    }
    if (launched_ == 0) {
        if (!prepare_child(parent, null.get(), out.write_end.get())) {
            ::_exit(127);
        }
        ::dup2(log.get(), STDERR_FILENO);
        exec_or_exit(argv.data());
    }
    (void)::setpgid(launched_, launched_);  // also here, so no signal to the group can miss it
    out.write_end.reset();
    std::string line = read_line(out.read_end.get(), Clock::now() + ready_limit);
    if (!parse_readiness(line, endpoint_, master_)) {
        error_ = line.empty() ? "no readiness line within 10 s"
                              : "not a readiness line: '" + line.substr(0, line.find('\n')) + "'";
        stop(std::chrono::seconds(2));
        return false;
    }
    return true;
}

bool BenchServer::group_alive() const {
    return ::kill(-launched_, 0) == 0 || errno == EPERM;
}

void BenchServer::kill_group() {
    (void)::kill(-launched_, SIGKILL);  // ESRCH: nothing left, which is fine
}

bool BenchServer::stop(milliseconds grace) {
    if (launched_ <= 0) {
        return true;
    }
    bool clean = true;
    (void)::kill(master_ > 0 ? master_ : launched_, SIGTERM);
    std::optional<ch01::ChildExit> exit;
    bool killed = false;
    auto deadline = Clock::now() + grace;
    // Bounded: after the grace period the group gets SIGKILL, then at most 5 s more.
    for (;;) {
        int status = 0;
        // Reap our child and anything of its group reparented to the bench (a subreaper).
        for (pid_t pid; (pid = ::waitpid(-launched_, &status, WNOHANG)) > 0;) {
            if (pid == launched_) {
                exit = ch01::ChildExit{pid, status};
            }
        }
        if (exit && !group_alive()) {
            break;
        }
        if (Clock::now() > deadline) {
            if (killed) {
                error_ = "processes of its group survived SIGKILL";
                clean = false;
                break;
            }
            error_ = exit ? "its master exited but left processes of its group running"
                          : "did not stop within " + std::to_string(grace.count() / 1000) +
                                " s of SIGTERM";
            clean = false;
            kill_group();
            killed = true;
            deadline = Clock::now() + std::chrono::seconds(5);
        }
        std::this_thread::sleep_for(milliseconds(5));
    }
    if (clean && exit && !exit->clean()) {
        error_ = "its master " + exit->describe() + " after SIGTERM";
        clean = false;
    }
    launched_ = -1;
    return clean;
}

}  // namespace forklab::load
