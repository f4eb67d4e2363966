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

/// Workers waiting for a connection, as the kernel's wait channel says: for chapter 03's accept
/// lock (flock: locks_lock_inode_wait) or, holding it, in poll on the listener.
std::size_t idle_workers(pid_t master) {
    std::size_t n = 0;
    for (pid_t w : live_children(master)) {
        std::string where = wchan(w);
        n += where.find("lock") != std::string::npos || where.find("poll") != std::string::npos;
    }
    return n;
}

/// Workers sleeping in a /sleep request.
int sleeping_workers(pid_t master) {
    int n = 0;
    for (pid_t w : live_children(master)) {
        n += wchan(w).find("nanosleep") != std::string::npos ? 1 : 0;
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

/// True once the server's log says \p what (within the usual deadline).
bool logged(const Server& server, const std::string& what) {
    return eventually([&] { return server.log().find(what) != std::string::npos; });
}

/// Fast maintenance for tests; the marks and cap vary per test.
std::vector<std::string> args(std::vector<std::string> extra) {
    std::vector<std::string> a = {"--maintenance-interval", "0.05", "--min-age", "0.3"};
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
    for (const char* report : {"scoreboard", "pipe"}) {
        Server server(args({"--start-workers", "2", "--min-idle", "2", "--max-idle", "4",
                            "--max-workers", "40", "--report", report}));
        ASSERT_TRUE(server.ready());
        EXPECT_EQ(parallel_gets(server.port(), "/sleep/1500", 16), 16) << report;
        std::string log = server.log();
        EXPECT_NE(log.find(": spawning 1"), std::string::npos) << report << "\n" << log;
        EXPECT_NE(log.find(": spawning 2"), std::string::npos) << report << "\n" << log;
        EXPECT_NE(log.find(": spawning 4"), std::string::npos)
            << report << ": the rate did not double:\n"
            << log;
    }
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
                        "--max-workers", "40", "--report", "pipe"}));
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

// HUP means what it means in chapter 03: a rolling restart, the new worker first.
TEST(Adaptive, HupReplacesWorkersOneAtATimeNewOneFirst) {
    Server server(args({"--start-workers", "3", "--min-idle", "1", "--max-idle", "5"}));
    ASSERT_TRUE(server.ready());
    ASSERT_TRUE(eventually([&] { return idle_workers(server.pid()) == 3; }));
    std::vector<pid_t> old = live_children(server.pid());
    ASSERT_EQ(::kill(server.pid(), SIGHUP), 0);
    EXPECT_TRUE(eventually([&] {
        return live_children(server.pid()).size() == 3 &&
               std::none_of(old.begin(), old.end(), alive);
    })) << live_children(server.pid()).size()
        << " workers\n"
        << server.log();
    // The master logs each exit after it reaped the worker: wait for its last line.
    EXPECT_TRUE(logged(server, "HUP done: every worker replaced")) << server.log();
    std::string log = server.log();
    EXPECT_NE(log.find("HUP: replacing 3 workers, one at a time"), std::string::npos) << log;
    EXPECT_EQ(count(log, "replaced (HUP)"), 3u) << log;
    // One at a time, the new one first: the k-th new worker is spawned before the k-th old one
    // has left, and after the (k-1)-th has.
    std::size_t spawned = 0;
    std::size_t left = 0;
    for (int k = 0; k < 3; ++k) {
        spawned = log.find(", generation 1)", spawned + 1);
        std::size_t leaves = log.find("replaced (HUP)", left + 1);
        EXPECT_LT(spawned, leaves) << "replacement " << k << ":\n" << log;
        EXPECT_TRUE(k == 0 || spawned > left) << "two at a time:\n" << log;
        left = leaves;
    }
    EXPECT_EQ(get(server.port(), "/").status, 200);
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
    Server server(args({"--start-workers", "2", "--drill-crash-at-start"}));
    ASSERT_TRUE(server.ready());
    server.allow_crashes();
    EXPECT_TRUE(eventually([&] { return server.exited(); }, 10s)) << server.log();
    EXPECT_EQ(server.exit_code(), 1);
    std::string log = server.log();
    EXPECT_NE(log.find("giving up"), std::string::npos) << log;
    EXPECT_NE(log.find("next spawn in 200 ms"), std::string::npos) << "no doubling back-off";
    EXPECT_LE(count(log, "drill: crashing before the accept loop"), 8u) << "a fork storm";
}

TEST(Adaptive, TtinAndTtouMoveTheWaterMarks) {
    Server server(args({"--start-workers", "2", "--min-idle", "2", "--max-idle", "3"}));
    ASSERT_TRUE(server.ready());
    // Signals of one kind do not queue: send the second TTIN once the first was handled.
    server.signal(SIGTTIN);
    ASSERT_TRUE(logged(server, "water marks now min 3, max 4")) << server.log();
    server.signal(SIGTTIN);
    ASSERT_TRUE(logged(server, "water marks now min 4, max 5")) << server.log();
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
    EXPECT_EQ(count(status, " busy "), 1u) << "only the worker answering is busy:\n" << status;
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
    ASSERT_TRUE(eventually([&] { return sleeping_workers(server.pid()) == 4; }));
    EXPECT_EQ(server.stop(SIGQUIT), 0);
    for (auto& c : clients) {
        c.join();
    }
    EXPECT_EQ(ok, 4);
}

// A connection that arrives while a graceful stop waits for a busy worker is served, not
// accepted by the kernel and then reset when the last worker leaves.
TEST(Adaptive, QuitServesAConnectionArrivingDuringTheStop) {
    Server server(args({"--start-workers", "2", "--min-idle", "1", "--max-idle", "4"}));
    ASSERT_TRUE(server.ready());
    ASSERT_TRUE(eventually([&] { return live_children(server.pid()).size() == 2; }));
    Fd busy = connect_to(server.port());
    ASSERT_TRUE(send_all(busy.get(), "GET /sleep/1500 HTTP/1.1\r\n\r\n"));
    ASSERT_TRUE(eventually([&] { return sleeping_workers(server.pid()) == 1; }));
    server.signal(SIGQUIT);
    // The idle worker leaves at once; the busy one is still serving.
    ASSERT_TRUE(eventually([&] { return live_children(server.pid()).size() == 1; }))
        << server.log();
    Fd late = connect_to(server.port());
    ASSERT_TRUE(late.valid()) << "refused is fine too, but this listener still listens";
    ASSERT_TRUE(send_all(late.get(), "GET / HTTP/1.1\r\n\r\n"));
    HttpReply r = read_reply(late.get(), 5s);
    EXPECT_EQ(r.status, 200) << "accepted, then lost: " << r.error << "\n" << server.log();
    EXPECT_EQ(read_reply(busy.get(), 5s).status, 200);
    EXPECT_TRUE(eventually([&] { return server.exited(); }, 5s));
    EXPECT_EQ(server.exit_code(), 0);
}

// TTOU moves both marks down, but never the low one below 1: a pool that wants no idle worker
// never spawns, and one whose workers were all retired serves no one.
TEST(Adaptive, TtouNeverTakesThePoolBelowOneIdleWorker) {
    Server server(args({"--start-workers", "1", "--min-idle", "1", "--max-idle", "1"}));
    ASSERT_TRUE(server.ready());
    server.signal(SIGTTOU);
    EXPECT_TRUE(logged(server, "TTOU: the low water mark stays at 1")) << server.log();
    EXPECT_EQ(server.log().find("water marks now min 0"), std::string::npos) << server.log();
    EXPECT_EQ(get(server.port(), "/", 5s).status, 200);
    EXPECT_GE(live_children(server.pid()).size(), 1u);
}

/// Runs the binary with \p a; expects exit 2, the usage, and a message naming \p flag.
void expect_refused(const std::vector<std::string>& a, const std::string& flag) {
    RunResult r = run(server_binary(), a, 3s);
    EXPECT_EQ(r.exit_code, 2) << flag << (r.timed_out ? ": it started a server" : "");
    EXPECT_NE(r.err.find("usage:"), std::string::npos) << flag;
    EXPECT_NE(r.err.find(flag), std::string::npos) << "the message names no flag:\n" << r.err;
}

TEST(Adaptive, SettingsThatMakeAPoolThatCannotServeAreRefused) {
    expect_refused({"--min-idle", "0"}, "--min-idle");
    expect_refused({"--min-idle", "0", "--max-idle", "0"}, "--min-idle");
    expect_refused({"--max-idle", "0"}, "--max-idle");
    expect_refused({"--min-idle", "5", "--max-idle", "2"}, "--max-idle");
    expect_refused({"--min-idle", "6", "--max-idle", "8", "--max-workers", "4"}, "--min-idle");
}

TEST(Adaptive, StartWorkersAboveTheCapIsRefused) {
    expect_refused({"--start-workers", "8", "--max-workers", "3"}, "--start-workers");
}

TEST(Adaptive, EveryFlagIsRangeChecked) {
    expect_refused({"--max-workers", "0"}, "--max-workers");
    expect_refused({"--max-workers", "100000"}, "--max-workers");
    expect_refused({"--start-workers", "-1"}, "--start-workers");
    expect_refused({"--maintenance-interval", "0"}, "--maintenance-interval");
    expect_refused({"--heartbeat-timeout", "0"}, "--heartbeat-timeout");
    expect_refused({"--min-age", "-1"}, "--min-age");
    expect_refused({"--max-requests", "-5"}, "--max-requests");
    expect_refused({"--report", "smoke-signals"}, "--report");
}

}  // namespace
}  // namespace forklab::test
