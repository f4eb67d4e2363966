/// \file
/// \brief Unit tests of chapter 05's pure parts: dispatch, the message check and the deadline
/// lists.
#include <gtest/gtest.h>

#include <set>
#include <vector>

#include "channel.hpp"
#include "dispatch.hpp"
#include "timers.hpp"

namespace forklab::ch05 {
namespace {

using std::chrono::milliseconds;

TEST(Dispatch, PicksTheLeastLoadedReadyWorker) {
    std::vector<Candidate> c = {{5, true}, {2, true}, {1, false}, {3, true}};
    EXPECT_EQ(least_loaded(c, 0, 0, 100), 1u);
    EXPECT_EQ(least_loaded(c, 2, 0, 100), 1u);
    EXPECT_EQ(least_loaded(c, 0, 1u << 1, 100), 3u) << "a worker already tried is skipped";
    EXPECT_EQ(least_loaded(c, 0, 0, 2), c.size()) << "every ready worker is at the cap";
    EXPECT_EQ(least_loaded(c, 0, 0b1011, 100), c.size());
}

TEST(Dispatch, AStartingWorkerIsChosenOnlyWhenNoStartedOneCan) {
    std::vector<Candidate> c = {{0, true, true}, {9, true, false}};
    EXPECT_EQ(least_loaded(c, 0, 0, 100), 1u);
    EXPECT_EQ(least_loaded(c, 0, 0, 5), 0u) << "the started one is at the cap";
    EXPECT_EQ(least_loaded(c, 0, 1u << 1, 100), 0u) << "the started one is full";
}

TEST(Dispatch, EqualWorkersTakeTurns) {
    std::vector<Candidate> c = {{0, true}, {0, true}, {0, true}};
    std::set<std::size_t> chosen;
    for (std::size_t turn = 0; turn < 3; ++turn) {
        chosen.insert(least_loaded(c, turn, 0, 10));
    }
    EXPECT_EQ(chosen.size(), 3u);
}

TEST(Message, OnlyAWholeConnectionMessageIsValid) {
    Message m;
    EXPECT_TRUE(valid(m, sizeof m));
    EXPECT_FALSE(valid(m, sizeof m - 1)) << "shorter than a message";
    EXPECT_FALSE(valid(m, sizeof m + 1)) << "longer than a message";
    m.command = static_cast<Command>(99);
    EXPECT_FALSE(valid(m, sizeof m)) << "no such command";
}

TEST(Timers, TheHeadIsTheEarliestAndRearmingMovesToTheTail) {
    TimerList list(milliseconds(100));
    TimerHook a, b, c;
    auto t0 = Clock::now();
    list.arm(a, t0);
    list.arm(b, t0 + milliseconds(1));
    list.arm(c, t0 + milliseconds(2));
    EXPECT_EQ(list.front(), &a);
    list.arm(a, t0 + milliseconds(3));  // activity: a goes to the back
    EXPECT_EQ(list.front(), &b);
    EXPECT_EQ(a.deadline, t0 + milliseconds(103));
    disarm(b);
    EXPECT_EQ(list.front(), &c);
    disarm(c);
    disarm(a);
    EXPECT_EQ(list.front(), nullptr);
    disarm(a);  // not in a list: nothing happens
}

TEST(Timers, ArmingMovesBetweenLists) {
    TimerList idle(milliseconds(5000));
    TimerList reading(milliseconds(1000));
    TimerHook h;
    auto now = Clock::now();
    idle.arm(h, now);
    reading.arm(h, now);
    EXPECT_EQ(idle.front(), nullptr);
    EXPECT_EQ(reading.front(), &h);
    EXPECT_EQ(h.list, &reading);
}

}  // namespace
}  // namespace forklab::ch05
