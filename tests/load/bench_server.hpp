/// \file
/// \brief A server the bench starts, owns and stops: one row of the table.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

#include "forklab/net.hpp"

namespace forklab::load {

/// A server binary started with `--listen 127.0.0.1:0` in a process group of its own.
///
/// start() waits (at most 10 s) for the readiness line `forklab: listening on HOST:PORT pid PID`
/// and records the endpoint and the master's pid. The server's stderr goes to a log file. The
/// server is told to stop if the bench dies (PR_SET_PDEATHSIG), and the destructor stops it, so no
/// path out of the bench leaves a server running.
///
/// Call start() and stop() from one thread; the parent-death signal is tied to the thread that
/// forked.
class BenchServer {
  public:
    /// Remembers what to start; starts nothing.
    BenchServer(std::string binary, std::vector<std::string> extra_args, std::string log_path);
    /// stop(), if still running.
    ~BenchServer();
    BenchServer(const BenchServer&) = delete;
    BenchServer& operator=(const BenchServer&) = delete;

    /// Starts the server and waits for its readiness line. Returns false, with the reason in
    /// error(), when it does not come within 10 s (the server is then stopped). Throws
    /// std::system_error naming the call when a pipe or fork fails.
    bool start();

    /// Stops the server: SIGTERM to the master, then waits up to \p grace for the master to exit
    /// and the rest of its process group to be gone; after that, SIGKILL to the whole group.
    /// Reaps what it started. Returns true when the server stopped cleanly by itself (exit code 0,
    /// nothing left of its group); otherwise error() says what happened.
    bool stop(std::chrono::milliseconds grace = std::chrono::seconds(10));

    /// Where it listens (after start()).
    [[nodiscard]] const Endpoint& endpoint() const { return endpoint_; }
    /// The master's pid from the readiness line (after start()); -1 before.
    [[nodiscard]] pid_t master() const { return master_; }
    /// What went wrong last, for the bench's messages.
    [[nodiscard]] const std::string& error() const { return error_; }
    /// The file the server's stderr goes to.
    [[nodiscard]] const std::string& log_path() const { return log_path_; }

  private:
    [[nodiscard]] bool group_alive() const;
    void kill_group();

    std::string binary_;
    std::vector<std::string> args_;
    std::string log_path_;
    Endpoint endpoint_;
    pid_t launched_ = -1;  // our child, the leader of the process group
    pid_t master_ = -1;
    std::string error_;
};

/// Runs \p argv (argv[0] a path) to its end in a process group of its own, stdin from /dev/null,
/// and returns what it wrote on stdout in \p out. Its stderr goes to the bench's. Kills the group
/// when it runs longer than \p limit. Returns false, with the reason in \p error, unless it exited
/// with 0 in time. Throws std::system_error naming the call when a pipe or fork fails.
bool run_to_end(const std::vector<std::string>& argv, std::chrono::milliseconds limit,
                std::string& out, std::string& error);

/// Parses a readiness line, `forklab: listening on 127.0.0.1:41234 pid 12345` (with or without
/// its newline). Returns false when \p line is not exactly of that form.
bool parse_readiness(const std::string& line, Endpoint& endpoint, pid_t& pid);

}  // namespace forklab::load
