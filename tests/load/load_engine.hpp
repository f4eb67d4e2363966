/// \file
/// \brief The load client's engine: many connections from one epoll loop.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "forklab/net.hpp"

namespace forklab::load {

/// What to send, and how much.
struct LoadConfig {
    Endpoint target;          ///< The server (loopback in the kit's uses).
    int concurrency = 16;     ///< Connections working at once.
    long requests = 0;        ///< Stop after this many requests (0: use duration_ms).
    long duration_ms = 0;     ///< Stop issuing requests after this long (0: use requests).
    std::string path = "/";   ///< What to GET.
    bool keep_alive = false;  ///< Reuse connections (else `Connection: close`, one each).
    long timeout_ms = 5000;   ///< A request not answered within this is a timeout error.
};

/// What happened, counted by kind.
struct LoadResult {
    long ok = 0;                            ///< Complete responses with status 200.
    std::map<std::string, long> errors;     ///< By kind: refused, connect, reset, timeout, short,
                                            ///< malformed, status.
    double elapsed_s = 0;                   ///< From the first request to the last answer.
    std::vector<std::uint32_t> latency_us;  ///< One per successful request.

    /// Requests per second (successful ones).
    [[nodiscard]] double rate() const {
        return elapsed_s > 0 ? static_cast<double>(ok) / elapsed_s : 0;
    }
    /// Errors of every kind.
    [[nodiscard]] long error_count() const;
    /// The \p q quantile (0..1) of latency, in microseconds; 0 with no samples. Sorts the samples.
    std::uint32_t percentile(double q);
};

/// Runs the load and returns what happened. Bounded: it ends when the request count or the
/// duration is reached and every connection in flight has finished or timed out. Throws
/// std::system_error only if epoll itself cannot be set up.
LoadResult run_load(const LoadConfig& config);

}  // namespace forklab::load
