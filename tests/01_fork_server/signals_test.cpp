#include <gtest/gtest.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>

#include "01_fork_server/signals.hpp"
#include "01_fork_server/spawn.hpp"

namespace {

bool readable(int fd, int timeout_ms) {
    pollfd p{fd, POLLIN, 0};
    return ::poll(&p, 1, timeout_ms) == 1;
}

TEST(SignalEvents, ASignalMakesThePipeReadable) {
    forklab::ch01::SignalEvents events{SIGUSR1, SIGUSR2};
    EXPECT_FALSE(readable(events.fd(), 0));
    ::raise(SIGUSR2);
    ASSERT_TRUE(readable(events.fd(), 1000));
    EXPECT_EQ(events.take(), std::vector<int>{SIGUSR2});
    EXPECT_FALSE(readable(events.fd(), 0));
}

TEST(SignalEvents, ReportsEachSignalOnceInArrivalOrder) {
    forklab::ch01::SignalEvents events{SIGUSR1, SIGUSR2};
    ::raise(SIGUSR2);
    ::raise(SIGUSR1);
    ::raise(SIGUSR2);
    EXPECT_EQ(events.take(), (std::vector<int>{SIGUSR2, SIGUSR1}));
}

TEST(SignalEvents, OnlyOneInstanceAtATime) {
    forklab::ch01::SignalEvents events{SIGUSR1};
    EXPECT_THROW(forklab::ch01::SignalEvents second({SIGUSR2}), std::logic_error);
}

TEST(SignalEvents, DestructionRestoresDefaults) {
    { forklab::ch01::SignalEvents events{SIGUSR1}; }
    struct sigaction sa = {};
    ::sigaction(SIGUSR1, nullptr, &sa);
    EXPECT_EQ(sa.sa_handler, SIG_DFL);
}

// Pitfall 19: a signal that reaches a freshly forked child must not run the parent's handler
// (which would write into the parent's pipe and make the parent act on a signal it never got).
TEST(Spawn, ChildDoesNotRunTheParentsHandlers) {
    forklab::ch01::SignalEvents events{SIGUSR1};
    pid_t child = forklab::ch01::spawn([] {
        ::raise(SIGUSR1);  // default action: terminate
        return 0;
    });
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFSIGNALED(status)) << "the child survived SIGUSR1: it ran a handler";
    EXPECT_EQ(WTERMSIG(status), SIGUSR1);
    EXPECT_FALSE(readable(events.fd(), 0)) << "the child wrote into the parent's signal pipe";
}

TEST(Spawn, IgnoredSignalsAreIgnoredInTheChild) {
    forklab::ch01::SignalEvents events{SIGINT};
    pid_t child = forklab::ch01::spawn(
        [] {
            ::raise(SIGINT);
            return 7;
        },
        {SIGINT});
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 7);
}

TEST(BlockedSignals, RestoresTheMask) {
    sigset_t before;
    ::sigprocmask(SIG_SETMASK, nullptr, &before);
    {
        forklab::ch01::BlockedSignals blocked;
        sigset_t now;
        ::sigprocmask(SIG_SETMASK, nullptr, &now);
        EXPECT_TRUE(sigismember(&now, SIGTERM));
    }
    sigset_t after;
    ::sigprocmask(SIG_SETMASK, nullptr, &after);
    EXPECT_EQ(sigismember(&after, SIGTERM), sigismember(&before, SIGTERM));
}

}  // namespace
