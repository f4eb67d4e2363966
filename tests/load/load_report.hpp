/// \file
/// \brief What loadgen prints: a few lines of text, or one JSON object for the bench and scripts.
#pragma once

#include <string>

#include "load_engine.hpp"

namespace forklab::load {

/// Four lines: what was run, the rate, the latency percentiles, the errors by kind.
std::string text_report(const LoadConfig& config, const LoadResult& result);

/// One JSON object on one line, newline-terminated, with these members in this order:
///
///     {"target":"127.0.0.1:8080","concurrency":16,"threads":2,"keep_alive":false,"path":"/",
///      "requests":N,"ok":N,"errors":N,"error_kinds":{"reset":N,...},"elapsed_s":S,"rps":R,
///      "p50_ms":L,"p99_ms":L,"max_ms":L,"stopped":false}
///
/// Latencies (milliseconds) are of successful requests only; error_kinds lists only kinds seen.
std::string json_report(const LoadConfig& config, const LoadResult& result);

}  // namespace forklab::load
