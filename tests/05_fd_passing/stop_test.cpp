/// \file
/// \brief Chapter 05's signals: graceful and fast stop, rolling replacement, log reopening.
#include <gtest/gtest.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <thread>
#include <vector>

#include "fd_passing_support.hpp"
#include "harness/proc.hpp"
#include "harness/server.hpp"
#include "harness/temp_dir.hpp"
#include "harness/wait.hpp"

namespace forklab::test {
namespace {

using namespace std::chrono_literals;

/// Keep-alive clients that send a request as soon as the previous reply arrived, until the
/// server closes; they count what a client must never see: a reply cut short or garbled.
class KeepAliveLoad {
  public:
    KeepAliveLoad(int port, int clients) {
        for (int i = 0; i < clients; ++i) {
            threads_.emplace_back([this, port] { loop(port); });
        }
    }
    ~KeepAliveLoad() { join(); }
    void join() {
        for (auto& t : threads_) {
            if (t.joinable()) {
                t.join();
            }
        }
    }
    std::atomic<long> answered{0};       ///< 200 replies.
    std::atomic<long> told_to_close{0};  ///< Clients that ended on a `Connection: close` reply.
    std::atomic<long> broken{0};         ///< Replies cut short, errors, or a wait past 5 s.

  private:
    void loop(int port) {
        Client c(port);
        for (int i = 0; i < 100000; ++i) {
            if (!c.get("/")) {
                return;  // closed between two requests: nothing was in flight
            }
            HttpReply r = c.reply(5s);
            if (r.error == "eof" || r.error == "reset") {
                return;  // closed while idle: the request never reached a worker (retryable)
            }
            if (!r.complete || r.status != 200) {
                ++broken;
                return;
            }
            ++answered;
            if (r.header("connection") == "close") {
                ++told_to_close;
                return;
            }
        }
    }
    std::vector<std::jthread> threads_;
};

TEST(Stop, GracefulStopUnderKeepAliveLoadLosesNoRequestInFlight) {
    Server server({"--graceful-timeout", "10"});
    ASSERT_TRUE(server.ready());
    Client idle(server.port());
    ASSERT_TRUE(idle.get("/"));
    ASSERT_EQ(idle.reply().status, 200);
    std::vector<Client> sleepers;
    for (int i = 0; i < 20; ++i) {
        sleepers.emplace_back(server.port());
        ASSERT_TRUE(sleepers.back().get("/sleep/800"));
    }
    KeepAliveLoad load(server.port(), 4);
    ASSERT_TRUE(eventually([&] { return load.answered > 50; }));
    auto quit = std::chrono::steady_clock::now();
    server.signal(SIGQUIT);
    EXPECT_TRUE(idle.closed_within(500ms)) << "an idle keep-alive connection was kept";
    for (std::size_t i = 0; i < sleepers.size(); ++i) {
        HttpReply r = sleepers[i].reply(5s);
        EXPECT_EQ(r.status, 200) << "request in flight " << i << " lost: " << r.error;
        EXPECT_EQ(r.header("connection"), "close") << i;
        EXPECT_TRUE(sleepers[i].closed_within(1s)) << i;
    }
    load.join();
    EXPECT_EQ(load.broken, 0) << "replies cut short by the stop";
    EXPECT_TRUE(eventually([&] { return server.exited(); }, 5s));
    EXPECT_EQ(server.exit_code(), 0);
    EXPECT_LT(std::chrono::steady_clock::now() - quit, 4s) << "the stop waited for nothing";
    EXPECT_NE(server.log().find("graceful stop"), std::string::npos);
}

TEST(Stop, TermIsFast) {
    Server server;
    ASSERT_TRUE(server.ready());
    Client slow(server.port());
    ASSERT_TRUE(slow.get("/sleep/5000"));
    ASSERT_TRUE(eventually([&] {
        return json_numbers(get(server.port(), "/status?json").body, "passed").at(0) >= 1;
    }));
    auto start = std::chrono::steady_clock::now();
    EXPECT_EQ(server.stop(SIGTERM, 3s), 0);
    EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
    EXPECT_TRUE(slow.closed_within(1s));
}

TEST(Stop, HupReplacesTheWorkersOneByOneWithoutLosingARequest) {
    Server server({"--graceful-timeout", "10"});
    ASSERT_TRUE(server.ready());
    std::vector<pid_t> old = wait_for_workers(server.pid(), server.port());
    ASSERT_EQ(old.size(), 2u);
    Client slow(server.port());
    ASSERT_TRUE(slow.get("/sleep/500"));
    std::atomic<bool> done{false};
    std::atomic<long> ok{0};
    std::atomic<long> failed{0};
    std::jthread clients([&] {
        while (!done) {
            HttpReply r = exchange(server.port(), "GET / HTTP/1.1\r\nConnection: close\r\n\r\n");
            (r.status == 200 ? ok : failed) += 1;
        }
    });
    ASSERT_TRUE(eventually([&] { return ok > 20; }));
    server.signal(SIGHUP);
    std::vector<pid_t> now;
    EXPECT_TRUE(eventually(
        [&] {
            now = live_children(server.pid());
            return now.size() == 2 && now[0] != old[0] && now[0] != old[1] && now[1] != old[0] &&
                   now[1] != old[1];
        },
        8s));
    long at_end = ok;
    EXPECT_TRUE(eventually([&] { return ok > at_end + 20; }));
    done = true;
    clients.join();
    EXPECT_EQ(failed, 0);
    HttpReply r = slow.reply(3s);
    EXPECT_EQ(r.status, 200) << "the request in flight on an old worker: " << r.error;
    EXPECT_TRUE(eventually(
        [&] { return server.log().find("every worker replaced") != std::string::npos; }));
}

TEST(Stop, Usr1ReopensTheLogInTheMasterAndTheWorkers) {
    TempDir dir("forklab-ch05");
    std::string path = dir / "server.log";
    {
        Server server({"--log-file", path});
        ASSERT_TRUE(server.ready());
        ASSERT_EQ(get(server.port(), "/").status, 200);
        std::filesystem::rename(path, path + ".1");
        server.signal(SIGUSR1);
        ASSERT_TRUE(eventually([&] { return std::filesystem::exists(path); }));
        EXPECT_EQ(server.stop(SIGQUIT), 0);
    }
    std::string text = slurp(path);
    EXPECT_NE(text.find("master] graceful stop"), std::string::npos) << text;
    EXPECT_NE(text.find("worker] leaving"), std::string::npos) << text;
}

}  // namespace
}  // namespace forklab::test
