/// \file
/// \brief Serving one request on a blocking connection (chapters 01 to 04).
#pragma once

#include "forklab/app.hpp"
#include "forklab/fd.hpp"

namespace forklab {

/// Limits of one blocking exchange.
struct ServeLimits {
    long read_timeout_ms = 5000;    ///< The whole request head must arrive within this (else 408).
    long write_timeout_ms = 10000;  ///< The whole response must be taken within this (else close).
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
/// Takes ownership of \p conn. Never raises SIGPIPE. Both deadlines are totals, whatever the client
/// does byte by byte: the head must be complete within read_timeout_ms of the start (a client
/// that trickles bytes or floods empty lines is cut there, or sooner at the head limit), and the
/// response must be taken within write_timeout_ms of being ready (a client that reads a little at
/// a time cannot stretch it). A generated body (/bytes/N) is never built: it is sent from one
/// read-only buffer as the socket takes it, so a 16 MiB answer costs no more memory than an empty
/// one, nor a heap page in a freshly forked child. After an error response, unread input is drained
/// briefly before closing so the client sees the response instead of a reset. Drills: Drill::crash
/// aborts the process; Drill::hang blocks forever.
ServeEnd serve_one(Fd conn, const AppContext& context, const ServeLimits& limits);

}  // namespace forklab
