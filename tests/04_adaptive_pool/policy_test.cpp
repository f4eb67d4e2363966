/// \file
/// \brief The water-mark policy, table-driven. Built twice: with the reference seam and with the
/// student's (exercise 04).
#include <gtest/gtest.h>

#include "policy.hpp"

namespace forklab::ch04 {
namespace {

PolicyConfig marks(long min_idle, long max_idle, long cap, long min_age_ms = 1000) {
    PolicyConfig c;
    c.min_idle = min_idle;
    c.max_idle = max_idle;
    c.max_workers = cap;
    c.min_age_ms = min_age_ms;
    return c;
}

/// \p idle idle workers (pids 100, 101 ...) then \p busy busy ones (pids 200 ...), all old.
std::vector<WorkerInfo> pool(int idle, int busy, long age_ms = 10000) {
    std::vector<WorkerInfo> w;
    for (int i = 0; i < idle; ++i) {
        w.push_back({100 + i, true, age_ms});
    }
    for (int i = 0; i < busy; ++i) {
        w.push_back({200 + i, false, age_ms});
    }
    return w;
}

TEST(Policy, InsideTheMarksDoesNothing) {
    PolicyState s;
    for (int idle : {2, 3, 5}) {
        Decision d = decide(pool(idle, 3), marks(2, 5, 32), s);
        EXPECT_EQ(d.spawn, 0) << idle;
        EXPECT_TRUE(d.retire.empty()) << idle;
    }
}

// Apache's and php-fpm's burst answer: 1, 2, 4 ... 32 per period while short, then back to 1.
TEST(Policy, TheSpawnRateDoublesWhileShortAndResets) {
    PolicyState s;
    std::vector<int> spawned;
    for (int period = 0; period < 7; ++period) {
        spawned.push_back(decide(pool(0, 10 + period), marks(2, 5, 1000), s).spawn);
    }
    EXPECT_EQ(spawned, (std::vector<int>{1, 2, 4, 8, 16, 32, 32}))
        << "a shortage is made up at once instead of at a doubling rate (1, 2, 4 ... 32)";
    EXPECT_EQ(decide(pool(3, 50), marks(2, 5, 1000), s).spawn, 0);  // satisfied: reset
    EXPECT_EQ(decide(pool(0, 50), marks(2, 5, 1000), s).spawn, 1);
    EXPECT_EQ(decide(pool(0, 51), marks(2, 5, 1000), s).spawn, 2);
}

TEST(Policy, NeverPassesTheCapAndSaysSoOnce) {
    PolicyState s;
    s.rate = 8;
    Decision d = decide(pool(0, 6), marks(2, 5, 10), s);
    EXPECT_EQ(d.spawn, 4) << "the cap was ignored: 10 workers at most, 6 already";
    d = decide(pool(0, 10), marks(2, 5, 10), s);
    EXPECT_EQ(d.spawn, 0);
    EXPECT_TRUE(d.cap_reached);
    EXPECT_NE(d.reason.find("cap"), std::string::npos) << d.reason;
    d = decide(pool(0, 10), marks(2, 5, 10), s);
    EXPECT_EQ(d.spawn, 0);
    EXPECT_FALSE(d.cap_reached) << "the cap is reported once, not every period";
    decide(pool(3, 7), marks(2, 5, 10), s);  // satisfied again
    EXPECT_TRUE(decide(pool(0, 10), marks(2, 5, 10), s).cap_reached);
}

TEST(Policy, RetiresOneOldestIdleWorkerPerPeriod) {
    PolicyState s;
    std::vector<WorkerInfo> w = {{10, true, 5000}, {11, true, 9000},   {12, true, 7000},
                                 {13, true, 3000}, {14, false, 99000}, {15, true, 8000},
                                 {16, true, 6000}, {17, true, 4000}};
    Decision d = decide(w, marks(2, 5, 32), s);
    ASSERT_EQ(d.retire, std::vector<pid_t>{11}) << "the oldest idle one, and only one";
    EXPECT_EQ(d.spawn, 0);
}

TEST(Policy, NeverRetiresAYoungWorker) {
    PolicyState s;
    Decision d = decide(pool(9, 0, 500), marks(2, 5, 32, 1000), s);
    EXPECT_TRUE(d.retire.empty()) << "retiring young workers makes the pool oscillate";
    std::vector<WorkerInfo> w = pool(8, 0, 500);
    w.push_back({300, true, 1500});
    d = decide(w, marks(2, 5, 32, 1000), s);
    EXPECT_EQ(d.retire, std::vector<pid_t>{300});
}

TEST(Policy, TiesGoToTheLowerPid) {
    PolicyState s;
    std::vector<WorkerInfo> w = {{42, true, 5000}, {41, true, 5000}, {43, true, 5000},
                                 {44, true, 100},  {45, true, 100},  {46, true, 100}};
    EXPECT_EQ(decide(w, marks(1, 4, 32), s).retire, std::vector<pid_t>{41});
}

TEST(Policy, BusyWorkersAreNeverRetired) {
    PolicyState s;
    Decision d = decide(pool(3, 20), marks(2, 2, 32), s);
    ASSERT_EQ(d.retire.size(), 1u);
    EXPECT_LT(d.retire[0], 200) << "a busy worker was chosen";
}

TEST(Policy, AnEmptyPoolStartsGrowing) {
    PolicyState s;
    Decision d = decide({}, marks(2, 5, 32), s);
    EXPECT_EQ(d.spawn, 1);
    EXPECT_NE(d.reason.find("idle 0 < min 2"), std::string::npos) << d.reason;
}

}  // namespace
}  // namespace forklab::ch04
