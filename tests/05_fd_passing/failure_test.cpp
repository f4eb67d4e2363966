/// \file
/// \brief Chapter 05 under failures: a worker killed or stopped, every channel full, the master
/// killed, the master out of descriptors.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <algorithm>
#include <csignal>
#include <set>

#include "fd_passing_support.hpp"
#include "harness/proc.hpp"
#include "harness/server.hpp"
#include "harness/wait.hpp"

namespace forklab::test {
namespace {

using namespace std::chrono_literals;

/// A new connection per request: its /pid reply, or 0.
pid_t pid_on_new_connection(int port, std::chrono::milliseconds timeout = 5s) {
    HttpReply r = get(port, "/pid", timeout);
    return r.status == 200 ? static_cast<pid_t>(std::stol(r.body)) : 0;
}

TEST(Failures, KillingAWorkerClosesItsClientsAtOnceAndOnlyThemAndItIsReplaced) {
    Server server;
    ASSERT_TRUE(server.ready());
    server.allow_crashes();
    std::vector<pid_t> before = wait_for_workers(server.pid(), server.port());
    ASSERT_EQ(before.size(), 2u);
    std::vector<Client> clients;
    std::vector<pid_t> served_by;
    for (int i = 0; i < 12; ++i) {
        clients.emplace_back(server.port());
        ASSERT_TRUE(clients.back().get("/pid"));
        HttpReply r = clients.back().reply();
        ASSERT_EQ(r.status, 200) << r.error;
        served_by.push_back(static_cast<pid_t>(std::stol(r.body)));
    }
    pid_t victim = served_by[0];
    ASSERT_EQ(::kill(victim, SIGKILL), 0);
    int others = 0;
    for (std::size_t i = 0; i < clients.size(); ++i) {
        if (served_by[i] == victim) {
            EXPECT_TRUE(clients[i].closed_within(1s)) << "client " << i << " still open";
        } else {
            ++others;
            ASSERT_TRUE(clients[i].get("/pid"));
            HttpReply r = clients[i].reply();
            EXPECT_EQ(r.status, 200) << "client " << i << ": " << r.error;
        }
    }
    EXPECT_GT(others, 0) << "dispatch sent every connection to one worker";
    std::vector<pid_t> after;
    EXPECT_TRUE(eventually([&] {
        after = live_children(server.pid());
        return after.size() == 2 && std::find(after.begin(), after.end(), victim) == after.end();
    })) << "no replacement";
    std::set<pid_t> seen;
    for (int i = 0; i < 20; ++i) {
        seen.insert(pid_on_new_connection(server.port()));
    }
    EXPECT_EQ(seen.count(0), 0u);
    EXPECT_EQ(seen.count(victim), 0u);
    EXPECT_NE(server.log().find("killed by signal 9"), std::string::npos) << server.log();
}

TEST(Failures, AStoppedWorkerDoesNotStallTheMasterAndHealsAfterSigcont) {
    Server server;
    ASSERT_TRUE(server.ready());
    std::vector<pid_t> workers = wait_for_workers(server.pid(), server.port());
    ASSERT_EQ(workers.size(), 2u);
    pid_t stopped = workers[0];
    ASSERT_EQ(::kill(stopped, SIGSTOP), 0);
    ASSERT_TRUE(eventually([&] { return proc_stat(stopped).value_or(ProcStat{}).state == 'T'; }));
    // New connections keep coming. One after the other, so that dispatch sees the load it acts
    // on: the stopped worker's connections wait in its channel and its load only grows, so after
    // a first one or two everything goes to the other worker.
    std::vector<Client> waiting;
    int answered = 0;
    for (int i = 0; i < 40; ++i) {
        Client c(server.port());
        ASSERT_TRUE(c.get("/pid", "Connection: close\r\n"));
        HttpReply r = c.reply(400ms);
        if (r.status == 200) {
            ++answered;
            EXPECT_NE(r.body, std::to_string(stopped) + "\n");
        } else {
            EXPECT_EQ(r.error, "timeout") << "client " << i << " lost its request";
            waiting.push_back(std::move(c));
        }
    }
    EXPECT_GE(answered, 34) << "the master stalled behind the stopped worker";
    ASSERT_EQ(::kill(stopped, SIGCONT), 0);
    for (const HttpReply& r : replies_of(waiting, 3s)) {
        EXPECT_EQ(r.status, 200) << "a connection that waited was lost: " << r.error;
        EXPECT_EQ(r.body, std::to_string(stopped) + "\n");
    }
    // Healed: the worker that was stopped takes new connections again.
    EXPECT_TRUE(eventually([&] { return pid_on_new_connection(server.port()) == stopped; }, 5s));
}

TEST(Failures, WhenEveryChannelIsFullTheMasterAnswers503AndBlocksNothing) {
    raise_fd_limit();
    Server server;
    ASSERT_TRUE(server.ready());
    std::vector<pid_t> workers = wait_for_workers(server.pid(), server.port());
    ASSERT_EQ(workers.size(), 2u);
    for (pid_t w : workers) {
        ASSERT_EQ(::kill(w, SIGSTOP), 0);
    }
    // Each channel holds a few hundred connections; then sendmsg says EAGAIN.
    std::vector<Client> clients;
    for (int i = 0; i < 800; ++i) {
        clients.emplace_back(server.port());
        ASSERT_TRUE(clients.back().get("/", "Connection: close\r\n"));
    }
    std::vector<HttpReply> first = replies_of(clients, 3s);
    std::vector<Client> queued;
    int refused = 0;
    for (std::size_t i = 0; i < first.size(); ++i) {
        if (first[i].status == 503) {
            ++refused;
            EXPECT_TRUE(clients[i].closed_within(1s));
        } else {
            EXPECT_EQ(first[i].error, "timeout") << "client " << i;
            queued.push_back(std::move(clients[i]));
        }
    }
    EXPECT_GT(refused, 0) << "with every worker stopped, the overflow must get a 503";
    EXPECT_GT(queued.size(), 0u);
    for (pid_t w : workers) {
        ::kill(w, SIGCONT);
    }
    std::size_t ok = 0;
    for (const HttpReply& r : replies_of(queued, 10s)) {
        ok += r.status == 200 ? 1 : 0;
    }
    EXPECT_EQ(ok, queued.size()) << "connections waiting in a channel were lost";
    EXPECT_EQ(live_children(server.pid()), workers);
}

TEST(Failures, KillingTheMasterEndsEveryWorker) {
    Server server;
    ASSERT_TRUE(server.ready());
    server.allow_crashes();
    std::vector<pid_t> workers = wait_for_workers(server.pid(), server.port());
    ASSERT_EQ(workers.size(), 2u);
    Client holding(server.port());  // a worker with a connection leaves too
    ASSERT_TRUE(holding.get("/"));
    ASSERT_EQ(holding.reply().status, 200);
    ASSERT_EQ(::kill(server.pid(), SIGKILL), 0);
    for (pid_t w : workers) {
        EXPECT_TRUE(eventually([&] { return !alive(w); }, 3s)) << "worker " << w << " lives on";
    }
    EXPECT_TRUE(holding.closed_within(1s));
}

TEST(Failures, AMasterOutOfDescriptorsDoesNotSpinAndRecovers) {
    raise_fd_limit();
    Server server;
    ASSERT_TRUE(server.ready());
    ASSERT_EQ(get(server.port(), "/").status, 200);
    rlimit old{};
    ASSERT_EQ(::prlimit(server.pid(), RLIMIT_NOFILE, nullptr, &old), 0);
    rlimit low = old;
    low.rlim_cur = 3;  // below every descriptor it holds: accept fails with EMFILE
    ASSERT_EQ(::prlimit(server.pid(), RLIMIT_NOFILE, &low, nullptr), 0);
    std::vector<Client> flood;
    for (int i = 0; i < 200; ++i) {
        flood.emplace_back(server.port());  // completes in the kernel's backlog
        ASSERT_TRUE(flood.back().get("/", "Connection: close\r\n"));
    }
    long ticks = cpu_ticks(server.pid());
    auto start = std::chrono::steady_clock::now();
    std::vector<HttpReply> during = replies_of(flood, 1500ms);
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    double share = static_cast<double>(cpu_ticks(server.pid()) - ticks) /
                   static_cast<double>(::sysconf(_SC_CLK_TCK)) / seconds;
    EXPECT_LT(share, 0.3) << "the master spun on EMFILE (" << share * 100 << "% of a core)";
    ASSERT_EQ(::prlimit(server.pid(), RLIMIT_NOFILE, &old, nullptr), 0);
    std::vector<Client> waiting;
    for (std::size_t i = 0; i < flood.size(); ++i) {
        if (during[i].error == "timeout") {
            waiting.push_back(std::move(flood[i]));
        }
    }
    EXPECT_GT(waiting.size(), 0u);
    for (const HttpReply& r : replies_of(waiting, 5s)) {
        EXPECT_EQ(r.status, 200) << r.error;
    }
    EXPECT_EQ(get(server.port(), "/").status, 200) << "it did not recover";
    std::string log = server.log();
    EXPECT_NE(log.find("pausing accepts"), std::string::npos) << log;
}

}  // namespace
}  // namespace forklab::test
