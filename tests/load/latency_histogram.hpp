/// \file
/// \brief Latencies kept in fixed memory: a log-linear histogram of microseconds.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace forklab::load {

/// Counts latencies in microseconds, from 0 to about 71 minutes, in fixed memory.
///
/// Values below 64 us are kept exactly; above, each power-of-two range is cut into 32 buckets, so
/// a reported percentile is at most 1/32 (about 3%) above the true one and never below it. The
/// maximum is kept exactly. A run of any length costs the same 7 KiB, where one sample per request
/// would grow without bound (100,000 requests/s for an hour is 1.4 GB of samples).
class LatencyHistogram {
  public:
    /// Counts one latency of \p us microseconds (larger values are clamped to the top bucket).
    void record(std::uint64_t us) noexcept;
    /// Adds every count of \p other to this one.
    void merge(const LatencyHistogram& other) noexcept;

    /// How many latencies were recorded.
    [[nodiscard]] std::uint64_t count() const noexcept { return count_; }
    /// The largest recorded latency, exactly; 0 when none.
    [[nodiscard]] std::uint64_t max() const noexcept { return max_; }
    /// The \p q quantile (0 <= q <= 1) in microseconds: the upper bound of the bucket holding the
    /// ceil(q * count)-th smallest value (at least the first), capped at max(); 0 when empty.
    [[nodiscard]] std::uint64_t percentile(double q) const noexcept;

  private:
    static constexpr unsigned sub_bits = 5;            // 32 buckets per power of two
    static constexpr unsigned exact = 2u << sub_bits;  // 0..63 us are exact
    static constexpr unsigned top_bit = 32;            // up to 2^32 us
    static constexpr std::size_t buckets = exact + (top_bit - sub_bits - 1) * (1u << sub_bits);

    static std::size_t index_of(std::uint64_t us) noexcept;
    static std::uint64_t upper_bound_of(std::size_t index) noexcept;

    std::array<std::uint64_t, buckets> counts_{};
    std::uint64_t count_ = 0;
    std::uint64_t max_ = 0;
};

}  // namespace forklab::load
