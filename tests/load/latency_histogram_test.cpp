/// \file
/// \brief Percentiles from fixed memory: exact below 64 us, at most 1/32 high above, never low.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "latency_histogram.hpp"

namespace forklab::load {
namespace {

TEST(LatencyHistogram, EmptyReportsZero) {
    LatencyHistogram h;
    EXPECT_EQ(h.count(), 0u);
    EXPECT_EQ(h.percentile(0.5), 0u);
    EXPECT_EQ(h.max(), 0u);
}

TEST(LatencyHistogram, SmallValuesAreExact) {
    LatencyHistogram h;
    for (std::uint64_t v = 1; v <= 50; ++v) {
        h.record(v);
    }
    EXPECT_EQ(h.count(), 50u);
    EXPECT_EQ(h.percentile(0.5), 25u);
    EXPECT_EQ(h.percentile(0.99), 50u);
    EXPECT_EQ(h.percentile(0.0), 1u);
    EXPECT_EQ(h.max(), 50u);
}

TEST(LatencyHistogram, PercentilesAreNeverLowAndAtMostOneThirtySecondHigh) {
    std::mt19937_64 random(42);
    std::lognormal_distribution<double> latency(6.0, 1.5);  // around 400 us, a long tail
    std::vector<std::uint64_t> samples;
    LatencyHistogram h;
    for (int i = 0; i < 100000; ++i) {
        auto v = static_cast<std::uint64_t>(latency(random));
        samples.push_back(v);
        h.record(v);
    }
    std::sort(samples.begin(), samples.end());
    for (double q : {0.5, 0.9, 0.99, 0.999, 1.0}) {
        auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(samples.size())));
        std::uint64_t truth = samples[std::max<std::size_t>(rank, 1) - 1];
        std::uint64_t got = h.percentile(q);
        EXPECT_GE(got, truth) << q;
        EXPECT_LE(static_cast<double>(got), static_cast<double>(truth) * (1.0 + 1.0 / 32) + 1) << q;
    }
    EXPECT_EQ(h.max(), samples.back());
    EXPECT_EQ(h.percentile(1.0), samples.back());
}

TEST(LatencyHistogram, HugeValuesAreClampedNotLost) {
    LatencyHistogram h;
    h.record(std::uint64_t{1} << 40);
    EXPECT_EQ(h.count(), 1u);
    EXPECT_EQ(h.max(), std::uint64_t{1} << 40);
    EXPECT_GE(h.percentile(0.5), (std::uint64_t{1} << 32) - 1);
}

TEST(LatencyHistogram, MergeAddsCounts) {
    LatencyHistogram a;
    LatencyHistogram b;
    a.record(10);
    b.record(1000);
    b.record(1000);
    a.merge(b);
    EXPECT_EQ(a.count(), 3u);
    EXPECT_EQ(a.max(), 1000u);
    EXPECT_EQ(a.percentile(0.34), 1000u);
    EXPECT_EQ(a.percentile(0.33), 10u);
}

}  // namespace
}  // namespace forklab::load
