/// \file
/// \brief One connection of a worker, as the files of Connections see it. Chapter-internal.
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
    /// Where it stands (see Connections).
    enum class Phase { reading, sleeping, writing, lingering };
    Phase phase = Phase::reading;  ///< Where it stands now.
    Fd fd;                         ///< The connection (this process holds the only copy).
    http::RequestParser parser;    ///< What it sent, parsed one request at a time.
    bool reroutable = false;       ///< Its first request is still to be shown to the Router.
    std::string read;              ///< While reroutable: every byte read from it (they travel
                                   ///< with it if it leaves).
    unsigned long served = 0;      ///< Requests answered on it.
    std::string out;               ///< The response being written: head, and body unless generated.
    std::size_t sent = 0;          ///< How much of `out` is written.
    std::size_t generated = 0;     ///< Bytes of a generated body still to send after `out`.
    bool keep_alive = false;       ///< After the response being written.
    bool linger_after = false;   ///< Unread input remains: half-close and drain, not a plain close.
    bool head_only = false;      ///< HEAD: the body is left out.
    Response pending;            ///< /sleep/MS: the response waiting for its deadline.
    std::uint32_t interest = 0;  ///< What epoll watches (or will, once registered).
    bool registered = false;     ///< In the epoll set yet.
    unsigned long serial = 0;    ///< Tells a reused descriptor number from this connection.
    std::size_t index = 0;       ///< Its place in the table: its descriptor's number.
    std::size_t drained = 0;     ///< Bytes thrown away while lingering.
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
