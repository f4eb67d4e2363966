/// \file
/// \brief Chapter 04 judged from the outside: the pool's size over time in /proc, the master's
/// decisions in its log, and what clients see.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <thread>
#include <vector>

#include "harness/http_client.hpp"
#include "harness/proc.hpp"
#include "harness/server.hpp"
#include "harness/wait.hpp"
#include "load_engine.hpp"

namespace forklab::test {
namespace {

using namespace std::chrono_literals;

/// Workers blocked in accept (the kernel's wait channel says so): the idle ones.
std::size_t idle_workers(pid_t master) {
    std::size_t n = 0;
    for (pid_t w : live_children(master)) {
        n += wchan(w).find("accept") != std::string::npos ? 1 : 0;
    }
    return n;
}

std::size_t count(const std::string& text, const std::string& what) {
    std::size_t n = 0;
    for (std::size_t p = text.find(what); p != std::string::npos; p = text.find(what, p + 1)) {
        ++n;
    }
    return n;
}

/// Fast maintenance for tests; the marks and cap vary per test.
std::vector<std::string> args(std::vector<std::string> extra) {
    std::vector<std::string> a = {"--maintenance-interval", "0.05", "--min-age", "0.3",
                                  "--heartbeat-interval",   "0.1"};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
}

/// Runs \p n GETs of \p path at once; returns how many got a 200.
int parallel_gets(int port, const std::string& path, int n) {
    std::atomic<int> ok{0};
    std::vector<std::jthread> clients;
    for (int i = 0; i < n; ++i) {
        clients.emplace_back([&] { ok += get(port, path, 20s).status == 200 ? 1 : 0; });
    }
    for (auto& c : clients) {
        c.join();
    }
    return ok;
}

TEST(Adaptive, AtIdleThePoolSettlesInsideTheMarks) {
    Server server(args({"--start-workers", "1", "--min-idle", "3", "--max-idle", "5"}));
    ASSERT_TRUE(server.ready());
    EXPECT_TRUE(eventually([&] {
        std::size_t idle = idle_workers(server.pid());
        return idle >= 3 && idle <= 5;
    })) << idle_workers(server.pid())
        << " idle";
    Server crowded(args({"--start-workers", "12", "--min-idle", "2", "--max-idle", "4"}));
    ASSERT_TRUE(crowded.ready());
    EXPECT_TRUE(eventually([&] { return live_children(crowded.pid()).size() == 4; }))
        << live_children(crowded.pid()).size() << " workers";
}

TEST(Adaptive, GrowsStepwiseUnderSlowLoadAndServesEveryRequest) {
    Server server(args(
        {"--start-workers", "2", "--min-idle", "2", "--max-idle", "4", "--max-workers", "40"}));
    ASSERT_TRUE(server.ready());
    EXPECT_EQ(parallel_gets(server.port(), "/sleep/1500", 16), 16);
    std::string log = server.log();
    EXPECT_NE(log.find(": spawning 1"), std::string::npos) << log;
    EXPECT_NE(log.find(": spawning 2"), std::string::npos) << log;
    EXPECT_NE(log.find(": spawning 4"), std::string::npos) << "the rate did not double:\n" << log;
}

TEST(Adaptive, TheCapHoldsAndNothingIsRefused) {
    Server server(
        args({"--start-workers", "2", "--min-idle", "2", "--max-idle", "3", "--max-workers", "5"}));
    ASSERT_TRUE(server.ready());
    std::atomic<bool> done{false};
    std::atomic<std::size_t> most{0};
    std::jthread sampler([&] {
        while (!done) {
            most = std::max(most.load(), live_children(server.pid()).size());
            std::this_thread::yield();
        }
    });
    int ok = parallel_gets(server.port(), "/sleep/300", 20);
    done = true;
    sampler.join();
    EXPECT_EQ(ok, 20) << "requests beyond the cap must wait, not fail";
    EXPECT_LE(most, 5u);
    EXPECT_EQ(count(server.log(), "cap of 5 workers reached"), 1u) << server.log();
}

TEST(Adaptive, ShrinksBackWhenTheLoadStopsAndThenStaysStill) {
    Server server(args(
        {"--start-workers", "2", "--min-idle", "2", "--max-idle", "3", "--max-workers", "30"}));
    ASSERT_TRUE(server.ready());
    ASSERT_EQ(parallel_gets(server.port(), "/sleep/800", 14), 14);
    ASSERT_GT(count(server.log(), "spawning"), 2u);
    EXPECT_TRUE(eventually([&] { return live_children(server.pid()).size() <= 3; }, 15s))
        << live_children(server.pid()).size() << " workers";
    // Then still: no spawn and no retirement for a while (no oscillation around the marks).
    auto settled = live_children(server.pid());
    std::size_t decisions = count(server.log(), "spawning") + count(server.log(), "retiring");
    EXPECT_FALSE(eventually([&] { return live_children(server.pid()) != settled; }, 1500ms))
        << "the pool moved again at rest";
    EXPECT_EQ(count(server.log(), "spawning") + count(server.log(), "retiring"), decisions);
}

TEST(Adaptive, KillingABusyWorkerDuringARampKeepsTheCountsTrue) {
    Server server(args({"--start-workers", "2", "--min-idle", "2", "--max-idle", "4"}));
    ASSERT_TRUE(server.ready());
    server.allow_crashes();
    std::atomic<int> ok{0};
    std::vector<std::jthread> clients;
    for (int i = 0; i < 8; ++i) {
        clients.emplace_back([&] { ok += get(server.port(), "/sleep/1200").status == 200; });
    }
    pid_t victim = 0;
    ASSERT_TRUE(eventually([&] {
        for (pid_t w : live_children(server.pid())) {
            if (wchan(w).find("nanosleep") != std::string::npos) {
                victim = w;
                return true;
            }
        }
        return false;
    }));
    ::kill(victim, SIGKILL);
    for (auto& c : clients) {
        c.join();
    }
    EXPECT_EQ(ok, 7) << "only the victim's client may fail";
    // The master's view (the scoreboard behind /status) matches the live workers.
    EXPECT_TRUE(eventually([&] {
        std::string status = get(server.port(), "/status?json").body;
        std::size_t rows = count(status, "\"pid\":");
        return rows == live_children(server.pid()).size();
    })) << get(server.port(), "/status").body;
}

TEST(Adaptive, ManyWorkersAndManyRequestsMisparseNoRecord) {
    Server server(args({"--start-workers", "30", "--min-idle", "25", "--max-idle", "40",
                        "--max-workers", "40", "--heartbeat-interval", "0.02"}));
    ASSERT_TRUE(server.ready());
    load::LoadConfig c;
    c.target = {"127.0.0.1", static_cast<std::uint16_t>(server.port())};
    c.concurrency = 32;
    c.requests = 20000;
    load::LoadResult r = load::run_load(c);
    EXPECT_EQ(r.ok, 20000);
    EXPECT_EQ(r.error_count(), 0);
    EXPECT_EQ(server.log().find("bad record"), std::string::npos) << server.log();
    EXPECT_EQ(server.stop(SIGQUIT), 0);
}

TEST(Adaptive, WorkersLeavingWhileTheirHeartbeatTicksAreNotKilledByIt) {
    // 40 workers with a tick every 10 ms, all retired five times: a worker whose timer outlives
    // its SIGALRM handler on the way out dies of "Alarm clock" in some of those 240 exits.
    Server server(args({"--start-workers", "40", "--min-idle", "40", "--max-idle", "40",
                        "--max-workers", "40", "--heartbeat-interval", "0.01"}));
    ASSERT_TRUE(server.ready());
    ASSERT_TRUE(eventually([&] { return live_children(server.pid()).size() == 40; }, 10s))
        << live_children(server.pid()).size() << " workers";
    for (int round = 0; round < 5; ++round) {
        std::vector<pid_t> old = live_children(server.pid());
        ASSERT_EQ(::kill(server.pid(), SIGHUP), 0);
        EXPECT_TRUE(eventually(
            [&] {
                std::vector<pid_t> now = live_children(server.pid());
                return now.size() == 40 && std::none_of(old.begin(), old.end(), alive);
            },
            10s))
            << "round " << round << ": " << live_children(server.pid()).size() << " workers";
    }
    EXPECT_EQ(server.log().find("Alarm clock"), std::string::npos) << server.log();
    EXPECT_EQ(server.stop(SIGQUIT), 0);
    EXPECT_EQ(server.log().find("Alarm clock"), std::string::npos) << server.log();
}

TEST(Adaptive, Usr1WhileThePoolGrowsKillsNoStartingWorker) {
    // Log rotation while workers are being forked: a USR1 that reaches a worker before its handler
    // is installed would kill it (USR1's default action), and a few such deaths in a row would
    // look like a crash loop and stop the server.
    Server server(args(
        {"--start-workers", "1", "--min-idle", "30", "--max-idle", "40", "--max-workers", "40"}));
    ASSERT_TRUE(server.ready());
    EXPECT_TRUE(eventually(
        [&] {
            for (int i = 0; i < 50; ++i) {
                ::kill(server.pid(), SIGUSR1);
            }
            return live_children(server.pid()).size() >= 30 || !alive(server.pid());
        },
        10s));
    EXPECT_TRUE(alive(server.pid())) << server.log();
    EXPECT_EQ(server.log().find("killed by signal"), std::string::npos) << server.log();
    EXPECT_EQ(server.stop(SIGQUIT), 0);
}

TEST(Adaptive, AHungWorkerIsReplaced) {
    Server server(args({"--start-workers", "2", "--min-idle", "2", "--max-idle", "4", "--drills",
                        "--heartbeat-timeout", "0.5"}));
    ASSERT_TRUE(server.ready());
    Fd stuck = connect_to(server.port());
    ASSERT_TRUE(send_all(stuck.get(), "GET /hang HTTP/1.1\r\n\r\n"));
    EXPECT_TRUE(eventually([&] { return server.log().find("hung") != std::string::npos; }))
        << server.log();
    EXPECT_TRUE(closed_within(stuck.get(), 3s)) << "the hung worker's client was not closed";
    EXPECT_EQ(get(server.port(), "/").status, 200);
}

TEST(Adaptive, ACrashLoopBacksOffAndEndsInAClearExit) {
    Server server(args({"--start-workers", "2", "--drill-failing-start"}));
    ASSERT_TRUE(server.ready());
    server.allow_crashes();
    EXPECT_TRUE(eventually([&] { return server.exited(); }, 10s)) << server.log();
    EXPECT_EQ(server.exit_code(), 1);
    std::string log = server.log();
    EXPECT_NE(log.find("giving up"), std::string::npos) << log;
    EXPECT_NE(log.find("next spawn in 200 ms"), std::string::npos) << "no doubling back-off";
    EXPECT_LE(count(log, "drill: failing at start"), 8u) << "a fork storm";
}

TEST(Adaptive, TtinAndTtouMoveTheWaterMarks) {
    Server server(args({"--start-workers", "2", "--min-idle", "2", "--max-idle", "3"}));
    ASSERT_TRUE(server.ready());
    // Signals of one kind do not queue: send the second TTIN once the first was handled.
    server.signal(SIGTTIN);
    ASSERT_TRUE(eventually([&] {
        return server.log().find("water marks now min 3, max 4") != std::string::npos;
    })) << server.log();
    server.signal(SIGTTIN);
    ASSERT_TRUE(eventually([&] {
        return server.log().find("water marks now min 4, max 5") != std::string::npos;
    })) << server.log();
    EXPECT_TRUE(eventually([&] { return idle_workers(server.pid()) >= 4; }));
    server.signal(SIGTTOU);
    EXPECT_TRUE(eventually(
        [&] { return server.log().find("water marks now min 3, max 4") != std::string::npos; }));
}

TEST(Adaptive, StatusShowsTheCountsAndEveryWorker) {
    Server server(args({"--start-workers", "3", "--min-idle", "2", "--max-idle", "5"}));
    ASSERT_TRUE(server.ready());
    ASSERT_TRUE(eventually([&] { return idle_workers(server.pid()) == 3; }));
    std::string status = get(server.port(), "/status").body;
    EXPECT_NE(status.find("idle: 2\nbusy: 1\n"), std::string::npos) << status;
    for (pid_t w : live_children(server.pid())) {
        EXPECT_NE(status.find(std::to_string(w)), std::string::npos) << status;
    }
}

TEST(Adaptive, QuitFinishesRequestsInFlight) {
    Server server(args({"--start-workers", "6", "--min-idle", "2", "--max-idle", "8"}));
    ASSERT_TRUE(server.ready());
    std::atomic<int> ok{0};
    std::vector<std::jthread> clients;
    for (int i = 0; i < 4; ++i) {
        clients.emplace_back([&] { ok += get(server.port(), "/sleep/400").status == 200; });
    }
    ASSERT_TRUE(eventually([&] {
        int sleeping = 0;
        for (pid_t w : live_children(server.pid())) {
            sleeping += wchan(w).find("nanosleep") != std::string::npos ? 1 : 0;
        }
        return sleeping == 4;
    }));
    EXPECT_EQ(server.stop(SIGQUIT), 0);
    for (auto& c : clients) {
        c.join();
    }
    EXPECT_EQ(ok, 4);
}

TEST(Adaptive, BadFlagsGetUsageAndExitTwo) {
    for (std::vector<std::string> a :
         {std::vector<std::string>{"--min-idle", "5", "--max-idle", "2"},
          {"--max-workers", "0"},
          {"--maintenance-interval", "0"}}) {
        RunResult r = run(server_binary(), a);
        EXPECT_EQ(r.exit_code, 2) << a[0];
        EXPECT_NE(r.err.find("usage:"), std::string::npos);
    }
}

}  // namespace
}  // namespace forklab::test
