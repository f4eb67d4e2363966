/// \file
/// \brief Serving one request on a blocking connection (chapters 01 to 04).
#pragma once

#include "forklab/app.hpp"
#include "forklab/fd.hpp"

namespace forklab {

/// Limits of one blocking exchange.
struct ServeLimits {
    long read_timeout_ms = 5000;    ///< The whole request head must arrive within this (else 408).
    long write_timeout_ms = 10000;  ///< Each write must make progress within this.
};

/// How one connection ended (for logs and counters).
enum class ServeEnd {
    answered,       ///< A response was written in full.
    client_closed,  ///< The client closed before sending a complete request.
    timed_out,      ///< No complete head in time: 408 sent (best effort), closed.
    bad_request,    ///< Malformed or oversized: 400/414/431/505 sent, closed.
    write_failed,   ///< The client went away while we answered (EPIPE, ECONNRESET, timeout).
};

/// Reads one request from \p conn, answers it with `Connection: close` and closes the connection.
///
/// Takes ownership of \p conn. Never raises SIGPIPE. A head arriving slowly byte by byte is bounded
/// by read_timeout_ms in total (counted from the first time the request is not there yet), so a
/// slow client cannot hold the process forever. After an error
/// response, unread input is drained briefly before closing so the client sees the response
/// instead of a reset. Drills: Drill::crash aborts the process; Drill::hang blocks forever.
ServeEnd serve_one(Fd conn, const AppContext& context, const ServeLimits& limits);

}  // namespace forklab
