/// \file
/// \brief One connection of a worker, as connections.cpp and connections_end.cpp see it.
/// Chapter-internal.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

#include "connections.hpp"
#include "forklab/http.hpp"

namespace forklab::ch05 {

/// One client connection.
struct Connections::Conn : TimerHook {
    /// Where a connection stands (see Connections).
    enum class Phase { reading, sleeping, writing, lingering };
    Phase phase = Phase::reading;  ///< Where this one stands.
    Fd fd;                         ///< The connection's socket (owned).
    http::RequestParser parser;    ///< The request being read.
    std::string carried;    ///< routing: every byte read before the first request, for a hand-back
    bool routable = false;  ///< the first request's key is still to be checked
    bool too_much = false;  ///< more than max_carried came before it: cannot travel, serve here
    unsigned long served = 0;    ///< requests answered on it
    std::string out;             ///< the response being written
    std::size_t sent = 0;        ///< how much of it is written
    bool keep_alive = false;     ///< after the response being written
    bool linger_after = false;   ///< unread input remains: half-close and drain, not a plain close
    bool head_only = false;      ///< HEAD: the body is left out
    Response pending;            ///< /sleep/MS: the response waiting for its deadline
    std::uint32_t interest = 0;  ///< what epoll watches (or will, once registered)
    bool registered = false;     ///< in the epoll set yet
    unsigned long serial = 0;    ///< tells a reused descriptor number from this connection
    std::size_t index = 0;       ///< its place in the table: its descriptor's number
    std::size_t drained = 0;     ///< bytes thrown away while lingering
};

/// How long a half-closed connection may drain before it is closed regardless.
inline constexpr std::chrono::milliseconds linger_time{1000};
/// How much it may send meanwhile.
inline constexpr std::size_t linger_bytes = 256u << 10;

/// The heap order of /sleep deadlines: the earliest on top.
template <typename T>
bool later(const T& a, const T& b) {
    return a.deadline > b.deadline;
}

}  // namespace forklab::ch05
