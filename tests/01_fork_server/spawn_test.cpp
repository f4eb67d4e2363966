#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <set>

#include "01_fork_server/reap.hpp"
#include "01_fork_server/spawn.hpp"
#include "harness/proc.hpp"
#include "harness/wait.hpp"

namespace {

using forklab::ch01::ChildExit;

TEST(Spawn, ReturnsInTheParentAndExitsWithTheBodysCode) {
    pid_t parent = ::getpid();
    pid_t child = forklab::ch01::spawn([parent] { return ::getppid() == parent ? 42 : 1; });
    ASSERT_GT(child, 0);
    EXPECT_EQ(::getpid(), parent);
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    EXPECT_EQ((forklab::ch01::ChildExit{child, status}.exit_code()), 42);
}

TEST(Spawn, AThrowingBodyStillEndsInExit) {
    pid_t child = forklab::ch01::spawn([]() -> int { throw std::runtime_error("boom"); });
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    forklab::ch01::ChildExit end{child, status};
    ASSERT_TRUE(end.exited());
    EXPECT_EQ(end.exit_code(), 70);
}

TEST(ChildExit, DescribesExitsAndSignals) {
    pid_t child = forklab::ch01::spawn([] {
        ::pause();
        return 0;
    });
    ::kill(child, SIGKILL);
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    forklab::ch01::ChildExit killed{child, status};
    EXPECT_TRUE(killed.signaled());
    EXPECT_FALSE(killed.clean());
    EXPECT_EQ(killed.describe(), "killed by signal 9 (Killed)");

    child = forklab::ch01::spawn([] { return 3; });
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    EXPECT_EQ((forklab::ch01::ChildExit{child, status}).describe(), "exited with code 3");
}

TEST(ReapChildren, ReturnsAtOnceWithNoChildren) {
    EXPECT_TRUE(forklab::ch01::reap_children().empty());
}

TEST(ReapChildren, ReturnsAtOnceWhenChildrenAreStillRunning) {
    pid_t child = forklab::ch01::spawn([] {
        ::pause();
        return 0;
    });
    EXPECT_TRUE(forklab::ch01::reap_children().empty());
    ::kill(child, SIGKILL);
    ASSERT_TRUE(forklab::test::eventually([&] { return !forklab::ch01::reap_children().empty(); }));
}

// SIGCHLDs coalesce: one call must collect every child that has ended, not just one.
TEST(ReapChildren, CollectsABurstInOneCall) {
    constexpr int n = 50;
    std::set<pid_t> pids;
    for (int i = 0; i < n; ++i) {
        pids.insert(forklab::ch01::spawn([i] { return i % 3; }));
    }
    ASSERT_TRUE(forklab::test::eventually(
        [] { return forklab::test::zombie_children(::getpid()).size() >= n; }));
    auto ended = forklab::ch01::reap_children();
    ASSERT_EQ(ended.size(), static_cast<std::size_t>(n));
    std::set<pid_t> reaped;
    for (const forklab::ch01::ChildExit& e : ended) {
        reaped.insert(e.pid);
        EXPECT_TRUE(e.exited());
    }
    EXPECT_EQ(reaped, pids);
    EXPECT_TRUE(forklab::test::zombie_children(::getpid()).empty());
}

}  // namespace
