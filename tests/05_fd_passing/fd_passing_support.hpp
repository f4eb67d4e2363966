/// \file
/// \brief What chapter 05's behaviour tests share: clients that keep connections, /proc looks.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

#include "forklab/fd.hpp"
#include "harness/http_client.hpp"

namespace forklab::test {

/// The master's live (non-zombie) children, sorted.
std::vector<pid_t> workers_of(pid_t master);

/// Waits (at most 5 s) until the master has \p n workers that have all started (none `starting`
/// in /status) and returns their pids, sorted. The readiness line comes as soon as the socket
/// listens, before the workers exist.
std::vector<pid_t> wait_for_workers(pid_t master, int port, std::size_t n = 2);

/// Raises this process's soft RLIMIT_NOFILE to the hard limit (at most 16384), so a test can hold
/// a thousand connections; servers started afterwards inherit it.
void raise_fd_limit();

/// The numbers that follow `"key":` in \p json, in order (every worker's, or the master's).
std::vector<long> json_numbers(const std::string& json, const std::string& key);

/// user + system CPU time of \p pid so far, in clock ticks (-1 if unreadable).
long cpu_ticks(pid_t pid);

/// One client connection that keeps its input buffered across replies, so that pipelined replies
/// are read one at a time.
class Client {
  public:
    /// Connects to 127.0.0.1:\p port. Throws std::system_error on failure.
    explicit Client(int port);
    /// Sends \p raw as it is. False if the server closed.
    bool send(const std::string& raw);
    /// Sends `GET path HTTP/1.1` with \p headers (each ending in \r\n).
    bool get(const std::string& path, const std::string& headers = "");
    /// Reads the next reply, waiting at most \p timeout. The reply to a HEAD has no body: pass
    /// \p head = true.
    HttpReply reply(std::chrono::milliseconds timeout = std::chrono::seconds(5), bool head = false);
    /// True when the server closes the connection (end-of-file or reset) within \p timeout.
    bool closed_within(std::chrono::milliseconds timeout);
    /// The descriptor.
    [[nodiscard]] int fd() const { return fd_.get(); }

  private:
    Fd fd_;
    std::string in_;
};

/// Waits until every one of \p clients has a reply, end-of-file or error, or \p timeout passes,
/// reading them as they become ready. Each entry: the reply (error "eof" when closed without one,
/// "timeout" when nothing came).
std::vector<HttpReply> replies_of(std::vector<Client>& clients, std::chrono::milliseconds timeout);

}  // namespace forklab::test
