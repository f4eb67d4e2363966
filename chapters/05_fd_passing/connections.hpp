/// \file
/// \brief A worker's connections: each one a non-blocking state machine in the worker's epoll set.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "03_prefork_flock/scoreboard.hpp"
#include "forklab/app.hpp"
#include "forklab/fd.hpp"
#include "router.hpp"
#include "timers.hpp"

namespace forklab::ch05 {

/// How long a connection may wait for each thing, and how many a worker holds.
struct ConnectionLimits {
    long read_timeout_ms = 5000;       ///< A request head must be complete within this (else 408).
    long keepalive_timeout_ms = 5000;  ///< An idle keep-alive connection is closed after this.
    long write_timeout_ms = 10000;     ///< A response not taken whole this long after it first
                                       ///< blocked is dropped.
    long max_connections = 4096;       ///< Open connections at most; more are answered 503.
};

/// The connections of one worker, keyed by descriptor, and their deadlines.
///
/// A connection goes: reading (its request head, bounded by the read timeout; between requests by
/// the keep-alive timeout) -> sleeping (/sleep/MS: a deadline, no thread, no blocking) -> writing
/// (EPOLLOUT while the socket is full; a long body is made as the socket drains, never held whole)
/// -> reading again (keep-alive) or lingering (half-closed, draining what the client still sends,
/// so that the close does not turn into a reset) -> closed. In the common case a request costs one
/// read and one write: no epoll_ctl, no timer syscall.
class Connections {
  public:
    /// \p epoll is the worker's epoll instance (not owned); \p slot its scoreboard slot, whose
    /// `open` count goes down by one for every connection that leaves (the master raised it).
    /// \p router (not owned, may be null) is shown the first request of every reroutable
    /// connection; \p me is the worker this runs in.
    Connections(int epoll, const ConnectionLimits& limits, const AppContext& app, ch03::Slot& slot,
                Router* router, ThisWorker me);
    ~Connections();
    Connections(const Connections&) = delete;
    Connections& operator=(const Connections&) = delete;

    /// Takes ownership of \p fd (non-blocking) and serves it. \p first_bytes were read from it
    /// elsewhere (by another worker) and are parsed before anything else. The first request of a
    /// \p reroutable connection is shown to the Router, which may take the connection away.
    void add(Fd fd, std::string_view first_bytes, bool reroutable, Clock::time_point now);

    /// Acts on epoll's report \p events for descriptor \p fd (unknown descriptors are ignored).
    void on_event(int fd, std::uint32_t events, Clock::time_point now);

    /// Acts on every deadline that has passed: 408 for a late head, a response after its /sleep,
    /// a close for an idle connection, a stuck writer or a lingering one.
    void expire(Clock::time_point now);

    /// Milliseconds until the next deadline (rounded up), or -1 when there is none.
    [[nodiscard]] int timeout_ms(Clock::time_point now) const;

    /// Graceful stop: idle keep-alive connections are closed now (unless a request is already
    /// waiting in one), every request in flight or still to come on a new connection is answered
    /// with `Connection: close`, and no connection is shown to the Router any more.
    void stop_gracefully();

    /// Connections open.
    [[nodiscard]] std::size_t size() const { return open_; }
    /// Requests answered so far.
    [[nodiscard]] unsigned long requests() const { return requests_; }

  private:
    struct Conn;
    enum class Progress { done, pending, closed };

    Conn* find(int fd) const;
    void read_some(Conn& c, Clock::time_point now);
    void serve(Conn& c, Clock::time_point now);
    bool leaves(Conn& c, const http::Request& request);
    Progress respond(Conn& c, const Response& response, Clock::time_point now);
    Progress flush(Conn& c, Clock::time_point now);
    bool after_response(Conn& c, Clock::time_point now);
    void linger(Conn& c, Clock::time_point now);
    void drain(Conn& c);
    [[nodiscard]] bool watch(Conn& c, std::uint32_t events);
    void close(Conn& c);
    void release(Conn& c);

    int epoll_;
    ConnectionLimits limits_;
    const AppContext& app_;
    ch03::Slot& slot_;
    Router* router_;
    ThisWorker me_;
    std::vector<std::unique_ptr<Conn>> table_;  // by descriptor
    std::vector<std::unique_ptr<Conn>> spare_;  // closed ones, kept for reuse
    TimerList reading_;                         // a head on its way (or a new connection)
    TimerList idle_;                            // keep-alive, between requests
    TimerList writing_;                         // waiting for room in the socket
    TimerList lingering_;                       // half-closed, draining
    struct Sleeper {
        Clock::time_point deadline;
        int fd;
        unsigned long serial;
    };
    std::vector<Sleeper> sleepers_;  // a min-heap by deadline (/sleep/MS)
    std::size_t open_ = 0;
    unsigned long requests_ = 0;
    unsigned long serial_ = 0;
    bool stopping_ = false;
};

}  // namespace forklab::ch05
