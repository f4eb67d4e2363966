/// \file
/// \brief Starting a server binary the way a user would, and judging what it leaves behind.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace forklab::test {

class Kept;

/// The binary under test: $FORKLAB_SERVER (set by CTest to chNN_* or exNN_*).
std::string server_binary();

/// A child's stdout and stderr, read from the read ends of two pipes (borrowed, not closed) as
/// they come, until both reach end-of-file: a child that fills one pipe while the test waits on
/// the other would otherwise stall.
class ChildOutput {
  public:
    ChildOutput(int out_fd, int err_fd) : fds_{out_fd, err_fd} {}
    /// Waits at most \p wait for either pipe and appends what it holds to out or err. Returns
    /// done().
    bool read_some(std::chrono::milliseconds wait);
    /// True once both pipes have reached end-of-file (or failed).
    [[nodiscard]] bool done() const { return !open_[0] && !open_[1]; }

    std::string out;  ///< What came on the first pipe.
    std::string err;  ///< What came on the second.

  private:
    int fds_[2];
    bool open_[2] = {true, true};
};

/// What a finished command produced.
struct RunResult {
    int exit_code = -1;      ///< Exit code, or 128+signal.
    std::string out;         ///< Its stdout.
    std::string err;         ///< Its stderr.
    bool timed_out = false;  ///< Killed after the timeout.
    /// Processes it left running (a daemon that should have refused to start), killed since.
    std::vector<pid_t> left_running;
};
/// Runs \p binary with \p args to completion (at most \p timeout), capturing its output. It runs
/// below a keeper (harness/kept.hpp): whatever it leaves running (a daemon) is killed on return.
RunResult run(const std::string& binary, const std::vector<std::string>& args,
              std::chrono::milliseconds timeout = std::chrono::seconds(10));

/// A running server started with `--listen 127.0.0.1:0` in its own process group, below a keeper
/// process (harness/kept.hpp): the server, its workers and a daemon it detaches die with the test
/// however the test ends, and inherit no descriptor but 0-2.
///
/// The constructor waits (at most 10 s) for the readiness line
/// `forklab: listening on 127.0.0.1:PORT pid PID` and records a test failure if it does not
/// come. stderr goes to a log file that log() reads. The destructor kills whatever is left of the
/// group and reaps it, recording a failure if anything had to be killed there; it also fails the
/// test if the log reports a crash (a worker killed by a signal, a sanitizer report) unless
/// allow_crashes() was called.
class Server {
  public:
    /// Starts \p binary (default server_binary()) with \p args; the server inherits the
    /// descriptors in \p pass besides 0-2 (none by default).
    explicit Server(std::vector<std::string> args = {}, std::string binary = server_binary(),
                    const std::vector<int>& pass = {});
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    /// True when the readiness line arrived.
    [[nodiscard]] bool ready() const { return port_ > 0; }
    /// The port it listens on.
    [[nodiscard]] int port() const { return port_; }
    /// The master's pid, from the readiness line.
    [[nodiscard]] pid_t pid() const { return pid_; }
    /// The pid of the process the harness started (the launcher for a daemon).
    [[nodiscard]] pid_t launched_pid() const { return launched_; }
    /// The keeper's pid: the parent of the launched process and of any orphan below it.
    [[nodiscard]] pid_t keeper_pid() const;
    /// The exit code (128+signal when killed) of \p pid, a process below the keeper (the launcher,
    /// say), once it has ended; nothing if it has not within \p timeout.
    std::optional<int> exit_of(pid_t pid, std::chrono::milliseconds timeout);
    /// The session of a daemon started by the harness (0 when it stayed in ours).
    [[nodiscard]] pid_t session() const { return session_; }
    /// Everything the server wrote on stderr (or into the log file passed to it) so far.
    [[nodiscard]] std::string log() const;
    /// The path of the stderr capture file.
    [[nodiscard]] const std::string& log_path() const { return log_path_; }
    /// A private temporary directory for this server's files (removed afterwards).
    [[nodiscard]] const std::string& dir() const { return dir_; }
    /// Do not treat crash lines in the log as failures (tests that kill workers on purpose).
    void allow_crashes() { allow_crashes_ = true; }

    /// The master was replaced by \p pid (a live upgrade: the new master is a child of the old one,
    /// in the same process group); from now on signal(), stop() and exited() mean that one. Call
    /// it once the old master has exited.
    void follow(pid_t pid) {
        pid_ = pid;
        reaped_ = false;
        exit_code_ = -1;
    }

    /// Sends \p sig to the master.
    void signal(int sig) const;
    /// Sends \p sig and waits up to \p timeout for the master to exit; returns its exit code
    /// (128+signal if killed), or -1 after a timeout (then the group is killed and the test fails).
    int stop(int sig = 15, std::chrono::milliseconds timeout = std::chrono::seconds(10));
    /// True once the master has exited (reaps it if it is our child).
    bool exited();
    /// The master's exit code after exited() (128+signal when killed).
    [[nodiscard]] int exit_code() const { return exit_code_; }

  private:
    void cleanup();

    std::unique_ptr<Kept> kept_;
    std::string dir_;
    std::string log_path_;
    std::string log_file_;  // the server's own --log-file, if it was given one
    pid_t launched_ = -1;
    pid_t pid_ = -1;
    pid_t session_ = 0;
    int port_ = 0;
    bool allow_crashes_ = false;
    bool reaped_ = false;
    int exit_code_ = -1;
};

}  // namespace forklab::test
