/// \file
/// \brief Unit tests of the master-side pieces of common/ that chapter 03 introduced: the worker
/// table with its stop escalation, and the rolling restart.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>

#include "01_fork_server/signals.hpp"
#include "01_fork_server/spawn.hpp"
#include "03_prefork_flock/rolling_restart.hpp"
#include "03_prefork_flock/worker_table.hpp"
#include "forklab/fd.hpp"
#include "harness/wait.hpp"

namespace forklab::test {
namespace {

using Clock = std::chrono::steady_clock;

/// A child that ignores \p ignored and otherwise just waits, reaped (and killed if need be) at the
/// end of the test.
class Child {
  public:
    explicit Child(int ignored) {
        // spawn() sets SIG_IGN before the child can receive anything.
        pid_ = ch01::spawn(
            [] {
                for (;;) {
                    ::pause();
                }
                return 0;
            },
            {ignored});
    }
    ~Child() {
        if (!reaped_) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
        }
    }
    Child(const Child&) = delete;
    Child& operator=(const Child&) = delete;
    [[nodiscard]] pid_t pid() const { return pid_; }
    /// The wait status once it has ended, reaping it.
    std::optional<int> ended() {
        int status = 0;
        if (!reaped_ && ::waitpid(pid_, &status, WNOHANG) == pid_) {
            reaped_ = true;
            status_ = status;
        }
        return reaped_ ? std::optional<int>(status_) : std::nullopt;
    }

  private:
    pid_t pid_;
    bool reaped_ = false;
    int status_ = 0;
};

TEST(WorkerTable, KnowsItsWorkersAndWhichOnesServe) {
    ch03::WorkerTable table;
    table.add(100, 0, 1);
    table.add(101, 1, 1);
    EXPECT_EQ(table.size(), 2u);
    EXPECT_EQ(table.serving(), 2u);
    ASSERT_NE(table.find(101), nullptr);
    EXPECT_EQ(table.find(101)->slot, 1u);
    EXPECT_EQ(table.find(102), nullptr);
    EXPECT_TRUE(table.serving(101));
    EXPECT_FALSE(table.serving(102)) << "unknown pid";
    EXPECT_FALSE(table.stop(102, SIGQUIT, std::chrono::milliseconds(100))) << "unknown pid";
    std::optional<ch03::WorkerEntry> gone = table.remove(100);
    ASSERT_TRUE(gone);
    EXPECT_EQ(gone->pid, 100);
    EXPECT_FALSE(table.remove(100));
    EXPECT_EQ(table.enforce(), Clock::time_point::max()) << "nobody is stopping";
}

// The stop request lives in the table: the signal is repeated until the worker is gone.
TEST(WorkerTable, RepeatsTheStopSignalUntilTheWorkerIsGone) {
    Pipe pipe = make_pipe();
    // The child inherits SIGQUIT blocked, so no SIGQUIT can kill it before it waits for one.
    sigset_t quit;
    sigset_t old;
    sigemptyset(&quit);
    sigaddset(&quit, SIGQUIT);
    ::sigprocmask(SIG_BLOCK, &quit, &old);
    pid_t counter = ch01::spawn([&] {
        // Takes the SIGQUITs one by one (pending ones coalesce) and writes a byte for each.
        for (int n = 0; n < 3; ++n) {
            int sig = 0;
            ::sigwait(&quit, &sig);
            write_all(pipe.write_end.get(), "q", 1);
        }
        return 0;
    });
    ::sigprocmask(SIG_SETMASK, &old, nullptr);
    pipe.write_end.reset();
    ch03::WorkerTable table(std::chrono::milliseconds(20));
    table.add(counter, 0, 0);
    EXPECT_TRUE(table.serving(counter));
    ASSERT_TRUE(table.stop(counter, SIGQUIT, std::chrono::seconds(5)));
    EXPECT_EQ(table.serving(), 0u);
    EXPECT_FALSE(table.serving(counter)) << "asked to stop";
    EXPECT_TRUE(eventually(
        [&] {
            table.enforce();
            int status = 0;
            return ::waitpid(counter, &status, WNOHANG) == counter && WIFEXITED(status);
        },
        std::chrono::seconds(3)))
        << "the stop signal was not repeated";
    char buf[8];
    EXPECT_EQ(::read(pipe.read_end.get(), buf, sizeof buf), 3);
}

TEST(WorkerTable, KillsAWorkerThatOutlivesItsDeadline) {
    Child child(SIGQUIT);
    ch03::WorkerTable table(std::chrono::milliseconds(20));
    table.add(child.pid(), 0, 0);
    auto start = Clock::now();
    ASSERT_TRUE(table.stop(child.pid(), SIGQUIT, std::chrono::milliseconds(200)));
    Clock::time_point wake = table.enforce();
    EXPECT_LE(wake, start + std::chrono::milliseconds(200)) << "enforce() must be called again";
    std::optional<int> status;
    ASSERT_TRUE(eventually(
        [&] {
            table.enforce();
            return (status = child.ended()).has_value();
        },
        std::chrono::seconds(3)));
    EXPECT_GE(Clock::now() - start, std::chrono::milliseconds(200)) << "killed before its deadline";
    ASSERT_TRUE(WIFSIGNALED(*status));
    EXPECT_EQ(WTERMSIG(*status), SIGKILL);
    EXPECT_TRUE(table.find(child.pid())->killed);
}

TEST(WorkerTable, AStopCanBeHurriedButNotDelayed) {
    Child child(SIGQUIT);
    ch03::WorkerTable table;
    table.add(child.pid(), 0, 0);
    table.stop(child.pid(), SIGQUIT, std::chrono::seconds(30));
    Clock::time_point first = table.find(child.pid())->kill_at;
    table.stop(child.pid(), SIGQUIT, std::chrono::seconds(60));
    EXPECT_EQ(table.find(child.pid())->kill_at, first) << "a second request delayed the kill";
    table.stop(child.pid(), SIGTERM, std::chrono::milliseconds(1));
    EXPECT_LT(table.find(child.pid())->kill_at, first);
    EXPECT_EQ(table.find(child.pid())->stop_signal, SIGTERM);
    EXPECT_TRUE(eventually([&] { return child.ended().has_value(); }, std::chrono::seconds(3)));
}

// A signal sent to a child before it has its handlers waits for them: no default action, no loss.
TEST(BlockedSignals, ASignalBeforeTheChildsHandlersWaitsForThem) {
    Pipe go = make_pipe();
    pid_t child = [&] {
        ch01::BlockedSignals held{SIGQUIT, SIGUSR1};
        return ch01::spawn([&] {
            char byte = 0;
            (void)::read(go.read_end.get(), &byte, 1);  // the signals are sent meanwhile
            ch01::SignalEvents signals({SIGQUIT, SIGUSR1});
            ch01::unblock_signals({SIGQUIT, SIGUSR1});
            std::vector<int> got = signals.take();
            return got.size() == 2 ? 0 : 1;
        });
    }();
    ::kill(child, SIGQUIT);  // its default action would dump core
    ::kill(child, SIGUSR1);  // its default action would kill it
    write_all(go.write_end.get(), "g", 1);
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFEXITED(status)) << "a held signal ran its default action";
    EXPECT_EQ(WEXITSTATUS(status), 0) << "a held signal was lost";
    sigset_t now;
    ::sigprocmask(SIG_BLOCK, nullptr, &now);
    EXPECT_FALSE(sigismember(&now, SIGQUIT)) << "the parent's mask was not restored";
}

TEST(RollingRestart, ReplacesOneAtATimeInOrder) {
    ch03::RollingRestart round;
    auto all = [](pid_t) { return true; };
    EXPECT_FALSE(round.active());
    round.begin({10, 11, 12});
    EXPECT_TRUE(round.active());
    EXPECT_EQ(round.next(all), 10);
    EXPECT_FALSE(round.next(all)) << "one at a time";
    EXPECT_FALSE(round.ended(11)) << "11 is not being replaced";
    EXPECT_TRUE(round.ended(10));
    EXPECT_EQ(round.next(all), 12) << "11 ended on its own: skipped";
    EXPECT_TRUE(round.ended(12));
    EXPECT_FALSE(round.next(all));
    EXPECT_FALSE(round.active());
}

TEST(RollingRestart, SkipsWorkersThatLeftThePool) {
    ch03::RollingRestart round;
    round.begin({20, 21, 22});
    EXPECT_EQ(round.next([](pid_t pid) { return pid == 22; }), 22);
    EXPECT_TRUE(round.ended(22));
    EXPECT_FALSE(round.next([](pid_t) { return true; })) << "20 and 21 were dropped, not kept";
    EXPECT_FALSE(round.active());
}

TEST(RollingRestart, ANewRoundKeepsTheCurrentReplacementGoing) {
    ch03::RollingRestart round;
    auto all = [](pid_t) { return true; };
    round.begin({30, 31});
    ASSERT_EQ(round.next(all), 30);
    round.begin({30, 32, 33});
    EXPECT_FALSE(round.next(all)) << "30 is still being replaced";
    EXPECT_TRUE(round.ended(30)) << "30 is still the current replacement";
    EXPECT_EQ(round.next(all), 32) << "the current one is not queued again";
    EXPECT_TRUE(round.ended(32));
    EXPECT_EQ(round.next(all), 33);
    round.cancel();
    EXPECT_FALSE(round.active());
}

}  // namespace
}  // namespace forklab::test
