#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include "01_fork_server/spawn.hpp"
#include "03_prefork_flock/scoreboard.hpp"
#include "03_prefork_flock/start_failures.hpp"
#include "03_prefork_flock/worker_life.hpp"

namespace {

TEST(StartFailures, DoublesThenGivesUpAndResets) {
    forklab::ch03::StartFailures failures(5, 100, 300);
    EXPECT_EQ(failures.failed(), 100);
    EXPECT_EQ(failures.failed(), 200);
    EXPECT_EQ(failures.failed(), 300);  // capped
    EXPECT_EQ(failures.failed(), 300);
    EXPECT_FALSE(failures.failed()) << "the fifth failure in a row means give up";
    failures.started();
    EXPECT_EQ(failures.count(), 0);
    EXPECT_EQ(failures.failed(), 100);
}

TEST(JitteredLimit, StaysWithinHalfBelowTheLimit) {
    EXPECT_EQ(forklab::ch03::jittered_limit(0), 0);
    EXPECT_EQ(forklab::ch03::jittered_limit(1), 1);
    for (int i = 0; i < 100; ++i) {
        long n = forklab::ch03::jittered_limit(100);
        EXPECT_GE(n, 50);
        EXPECT_LE(n, 100);
    }
}

TEST(DieWithMaster, KnowsItsMaster) {
    pid_t me = ::getpid();
    pid_t child = forklab::ch01::spawn([me] {
        return forklab::ch03::die_with_master(me) && !forklab::ch03::die_with_master(me + 100000)
                   ? 0
                   : 1;
    });
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    EXPECT_EQ(WEXITSTATUS(status), 0);
}

// Each worker writes its own slot; every process sees every slot (the memory is shared).
TEST(Scoreboard, SlotsAreSharedAcrossFork) {
    forklab::ch03::Scoreboard board(4);
    EXPECT_EQ(board.find_free(), 0u);
    pid_t child = forklab::ch01::spawn([&board] {
        board.slot(2).pid = ::getpid();
        board.slot(2).requests = 7;
        return 0;
    });
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    EXPECT_EQ(board.slot(2).pid, child);
    EXPECT_NE(board.render(false).find(std::to_string(child)), std::string::npos);
    EXPECT_NE(board.render(true).find("\"requests\":7"), std::string::npos);
}

}  // namespace
