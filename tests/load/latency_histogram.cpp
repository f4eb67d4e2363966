/// \file
/// \brief The latency histogram's buckets.
#include "latency_histogram.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

namespace forklab::load {

std::size_t LatencyHistogram::index_of(std::uint64_t us) noexcept {
    us = std::min<std::uint64_t>(us, (std::uint64_t{1} << top_bit) - 1);
    if (us < exact) {
        return static_cast<std::size_t>(us);
    }
    // us lies in [2^b, 2^(b+1)) with b >= sub_bits + 1; its top sub_bits + 1 bits pick the bucket.
    auto b = static_cast<unsigned>(std::bit_width(us)) - 1;
    std::uint64_t sub = (us >> (b - sub_bits)) - (1u << sub_bits);
    return exact + (b - sub_bits - 1) * (std::size_t{1} << sub_bits) +
           static_cast<std::size_t>(sub);
}

std::uint64_t LatencyHistogram::upper_bound_of(std::size_t index) noexcept {
    if (index < exact) {
        return index;
    }
    std::size_t r = index - exact;
    unsigned b = static_cast<unsigned>(r >> sub_bits) + sub_bits + 1;
    std::uint64_t sub = (r & ((1u << sub_bits) - 1)) + (1u << sub_bits);
    return ((sub + 1) << (b - sub_bits)) - 1;
}

void LatencyHistogram::record(std::uint64_t us) noexcept {
    ++counts_[index_of(us)];
    ++count_;
    max_ = std::max(max_, us);
}

void LatencyHistogram::merge(const LatencyHistogram& other) noexcept {
    for (std::size_t i = 0; i < buckets; ++i) {
        counts_[i] += other.counts_[i];
    }
    count_ += other.count_;
    max_ = std::max(max_, other.max_);
}

std::uint64_t LatencyHistogram::percentile(double q) const noexcept {
    if (count_ == 0) {
        return 0;
    }
    q = std::clamp(q, 0.0, 1.0);
    auto rank = static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(count_)));
    rank = std::clamp<std::uint64_t>(rank, 1, count_);
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < buckets; ++i) {
        seen += counts_[i];
        if (seen >= rank) {
            return std::min(upper_bound_of(i), max_);
        }
    }
    return max_;
}

}  // namespace forklab::load
