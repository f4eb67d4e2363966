/// \file
/// \brief The load client's engine: many connections from one epoll loop.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "forklab/net.hpp"
#include "latency_histogram.hpp"

namespace forklab::load {

/// What to send, and how much.
struct LoadConfig {
    Endpoint target;          ///< The server (loopback in the kit's uses).
    int concurrency = 16;     ///< Connections working at once (>= 1).
    long requests = 0;        ///< Stop after issuing this many requests (0: use duration_ms).
    long duration_ms = 0;     ///< Stop issuing requests after this long (0: use requests).
    std::string path = "/";   ///< What to GET; starts with '/', no spaces or line breaks.
    bool keep_alive = false;  ///< Reuse connections (else `Connection: close`, one each).
    long timeout_ms = 5000;   ///< A request not finished within this (> 0) is a timeout error.
    int stop_fd = -1;         ///< When readable (a signal pipe), issue no more requests. Not owned.
    int threads = 1;          ///< Event loops, each with its own share of the connections (>= 1).
};

/// The client threads worth using on this machine: one per core, at most 4 (on a 2-core machine
/// one thread cannot keep up with a minimal server; more threads than cores only take CPU from
/// the server).
int default_threads();

/// What happened. Every issued request ends as exactly one success or one error:
/// `requests == ok + error_count()`.
struct LoadResult {
    long requests = 0;                   ///< Requests issued.
    long ok = 0;                         ///< Complete, well-formed responses with status 200.
    std::map<std::string, long> errors;  ///< Failed requests by kind (see run_load()).
    double elapsed_s = 0;                ///< From the first request to the end of the last one.
    LatencyHistogram latency;            ///< Latency of each successful request, microseconds.
    bool stopped = false;                ///< stop_fd became readable before the end.

    /// Successful requests per second.
    [[nodiscard]] double rate() const {
        return elapsed_s > 0 ? static_cast<double>(ok) / elapsed_s : 0;
    }
    /// Failed requests, all kinds together.
    [[nodiscard]] long error_count() const;
    /// The \p q quantile (0..1) of the successful requests' latency in microseconds (at most 1/32
    /// above the true value, see LatencyHistogram); 0 with no success.
    [[nodiscard]] std::uint64_t percentile(double q) const { return latency.percentile(q); }
};

/// Runs the load and returns what happened.
///
/// config.threads threads (at most one per connection) each run an epoll loop over their share
/// of the connections and of the request count, for the same duration; their results are added
/// up (elapsed_s is the longest thread's). Each connection issues one request at a time (no
/// pipelining). Without keep-alive each request opens its own connection, asks `Connection: close`
/// and waits for the server to close first, so the TIME_WAIT state stays on the server's side
/// instead of using up the client's ephemeral ports. A latency runs from issuing the request
/// (connect included) to the last byte of its response.
///
/// A request succeeds only when a well-formed response with status 200 and exactly Content-Length
/// bytes of body arrived and, when the response announced a close, the server then closed the
/// connection cleanly with nothing after the body. Otherwise it counts as one error of one kind:
/// - `refused`: connect was refused (nothing listens);
/// - `connect`: connect failed otherwise (no socket or no free local port: EMFILE, EADDRNOTAVAIL);
/// - `reset`: the connection was reset or failed, or closed before any byte of the response;
/// - `timeout`: not finished within timeout_ms (including a server that never closes after
///   `Connection: close`);
/// - `short`: the connection closed in the middle of a response;
/// - `malformed`: not an HTTP/1.x response with Content-Length, or bytes after its body;
/// - `status`: a well-formed response whose status is not 200.
/// A connection that failed is aborted (SO_LINGER 0: no TIME_WAIT left on the client), and a slot
/// whose connect failed waits 10 ms before trying again, so a dead server is not hammered.
///
/// Bounded: ends once the request count or the duration is reached (or stop_fd is readable) and
/// every request in flight has finished or timed out. Throws std::system_error naming the call
/// only when epoll itself fails.
LoadResult run_load(const LoadConfig& config);

}  // namespace forklab::load
