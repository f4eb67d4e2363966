/// \file
/// \brief Chapter 01 judged from the outside: responses, processes in /proc, exit codes.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <atomic>
#include <csignal>
#include <thread>
#include <vector>

#include "harness/http_client.hpp"
#include "harness/proc.hpp"
#include "harness/server.hpp"
#include "harness/wait.hpp"

namespace forklab::test {
namespace {

/// Runs \p n GETs of \p path at once, each on its own connection; returns how many got a 200.
int parallel_gets(int port, const std::string& path, int n) {
    std::atomic<int> ok{0};
    std::vector<std::jthread> clients;
    for (int i = 0; i < n; ++i) {
        clients.emplace_back([&] {
            if (get(port, path).status == 200) {
                ++ok;
            }
        });
    }
    for (auto& c : clients) {
        c.join();
    }
    return ok;
}

TEST(ForkServer, ServesTheApp) {
    Server server;
    ASSERT_TRUE(server.ready());
    HttpReply hello = get(server.port(), "/");
    EXPECT_EQ(hello.status, 200);
    EXPECT_EQ(hello.body, "Hello, world\n");
    EXPECT_EQ(hello.header("connection"), "close");
    EXPECT_EQ(get(server.port(), "/bytes/4000").body.size(), 4000u);
    EXPECT_EQ(get(server.port(), "/nowhere").status, 404);
    EXPECT_EQ(exchange(server.port(), "DELETE / HTTP/1.1\r\n\r\n").status, 405);
    EXPECT_NE(get(server.port(), "/status").body.find("fork per connection"), std::string::npos);
}

TEST(ForkServer, EachConnectionIsServedByAFreshChild) {
    Server server;
    ASSERT_TRUE(server.ready());
    int first = std::stoi(get(server.port(), "/pid").body);
    int second = std::stoi(get(server.port(), "/pid").body);
    EXPECT_NE(first, server.pid());
    EXPECT_NE(first, second);
}

// SIGCHLDs coalesce: a burst of exits must still leave no zombie, and the parent must not keep a
// descriptor per connection.
TEST(ForkServer, ABurstOfConnectionsLeavesNoZombieAndNoDescriptor) {
    Server server({"--max-children", "64"});
    ASSERT_TRUE(server.ready());
    ASSERT_EQ(get(server.port(), "/").status, 200);
    ASSERT_TRUE(eventually([&] { return children_of(server.pid()).empty(); }));
    int fds_before = fd_count(server.pid());

    std::atomic<int> ok{0};
    std::vector<std::jthread> clients;
    for (int t = 0; t < 16; ++t) {
        clients.emplace_back([&] {
            for (int i = 0; i < 25; ++i) {
                ok += get(server.port(), "/", std::chrono::seconds(10)).status == 200 ? 1 : 0;
            }
        });
    }
    for (auto& c : clients) {
        c.join();
    }
    EXPECT_EQ(ok, 400);
    EXPECT_TRUE(eventually([&] { return children_of(server.pid()).empty(); }))
        << children_of(server.pid()).size() << " children left, of which "
        << zombie_children(server.pid()).size() << " zombies";
    EXPECT_EQ(fd_count(server.pid()), fds_before);
    // Still serving after the burst (the parent's count of live children is right).
    EXPECT_EQ(parallel_gets(server.port(), "/", 8), 8);
}

// At the cap the parent stops accepting instead of forking more: no fork bomb under load.
TEST(ForkServer, TheChildrenCapHolds) {
    Server server({"--max-children", "3"});
    ASSERT_TRUE(server.ready());
    std::atomic<bool> done{false};
    std::atomic<std::size_t> most{0};
    std::jthread sampler([&] {
        while (!done) {
            std::size_t n = children_alive_together(server.pid()).size();
            most = std::max<std::size_t>(most, n);
            std::this_thread::yield();
        }
    });
    int ok = parallel_gets(server.port(), "/sleep/200", 8);
    done = true;
    sampler.join();
    EXPECT_EQ(ok, 8) << "queued connections must be served once a child exits";
    EXPECT_LE(most, 3u);
    EXPECT_GE(most, 2u) << "the sampler never saw the children work";
    // After many rounds at the cap, the count is still right.
    EXPECT_EQ(parallel_gets(server.port(), "/sleep/50", 9), 9);
}

TEST(ForkServer, ASlowClientDoesNotDelayOthers) {
    Server server({"--read-timeout", "30"});
    ASSERT_TRUE(server.ready());
    Fd slow = connect_to(server.port());
    ASSERT_TRUE(send_all(slow.get(), "GET / HTTP/1.1\r\nHost: x"));  // and then nothing
    auto start = std::chrono::steady_clock::now();
    EXPECT_EQ(parallel_gets(server.port(), "/", 10), 10);
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

// Bytes that cannot begin a request (another protocol, a TLS handshake) get 400 at once: the
// child is not kept for the whole read timeout waiting for a line end.
TEST(ForkServer, GarbageGets400AtOnce) {
    Server server({"--read-timeout", "30"});
    ASSERT_TRUE(server.ready());
    EXPECT_EQ(exchange(server.port(), "GARBAGE\n", std::chrono::seconds(10)).status, 400);
    EXPECT_EQ(exchange(server.port(), std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc", 9),
                       std::chrono::seconds(10))
                  .status,
              400);
}

TEST(ForkServer, BadRequestsGetTheirStatusAndTheServerGoesOn) {
    Server server({"--read-timeout", "0.3"});
    ASSERT_TRUE(server.ready());
    EXPECT_EQ(
        exchange(server.port(), "GET /" + std::string(5000, 'a') + " HTTP/1.1\r\n\r\n").status,
        414);
    EXPECT_EQ(
        exchange(server.port(), "GET / HTTP/1.1\r\nX-Big: " + std::string(9000, 'b') + "\r\n\r\n")
            .status,
        431);
    EXPECT_EQ(exchange(server.port(), std::string("\x80\x01\xff garbage\0\r\n\r\n", 16)).status,
              400);
    // A client that sends nothing gets 408 once the read timeout passes.
    Fd silent = connect_to(server.port());
    HttpReply timeout = read_reply(silent.get(), std::chrono::seconds(5));
    EXPECT_EQ(timeout.status, 408) << timeout.error;
    EXPECT_TRUE(closed_within(silent.get(), std::chrono::seconds(5)));
    EXPECT_EQ(get(server.port(), "/").status, 200);
}

// The client vanishes while its child writes a large response: EPIPE/ECONNRESET for the child,
// never SIGPIPE (the harness fails the test on a "killed by signal" line in the log).
TEST(ForkServer, AVanishedClientKillsNothing) {
    Server server;
    ASSERT_TRUE(server.ready());
    for (int i = 0; i < 5; ++i) {
        Fd conn = connect_to(server.port());
        ASSERT_TRUE(send_all(conn.get(), "GET /bytes/16000000 HTTP/1.1\r\n\r\n"));
        char some[1024];
        ASSERT_GT(::read(conn.get(), some, sizeof some), 0);
        linger off{1, 0};  // close with a reset, mid-response
        ::setsockopt(conn.get(), SOL_SOCKET, SO_LINGER, &off, sizeof off);
    }
    EXPECT_TRUE(eventually([&] { return children_of(server.pid()).empty(); }));
    EXPECT_EQ(get(server.port(), "/").status, 200);
    EXPECT_EQ(server.stop(SIGTERM), 0);
}

TEST(ForkServer, GracefulStopFinishesRequestsInFlight) {
    Server server;
    ASSERT_TRUE(server.ready());
    std::atomic<int> ok{0};
    std::vector<std::jthread> clients;
    for (int i = 0; i < 5; ++i) {
        clients.emplace_back([&] { ok += get(server.port(), "/sleep/400").status == 200; });
    }
    ASSERT_TRUE(eventually([&] { return children_of(server.pid()).size() == 5; }));
    EXPECT_EQ(server.stop(SIGTERM), 0);
    for (auto& c : clients) {
        c.join();
    }
    EXPECT_EQ(ok, 5);
}

TEST(ForkServer, GracefulTimeoutEndsStuckChildren) {
    Server server({"--graceful-timeout", "0.3"});
    ASSERT_TRUE(server.ready());
    Fd stuck = connect_to(server.port());
    ASSERT_TRUE(send_all(stuck.get(), "GET /sleep/20000 HTTP/1.1\r\n\r\n"));
    ASSERT_TRUE(eventually([&] { return children_of(server.pid()).size() == 1; }));
    auto start = std::chrono::steady_clock::now();
    EXPECT_EQ(server.stop(SIGINT), 0);
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
    EXPECT_TRUE(closed_within(stuck.get(), std::chrono::seconds(2)));
}

TEST(ForkServer, TheCrashDrillClosesTheConnectionAndIsLogged) {
    Server server({"--drills"});
    ASSERT_TRUE(server.ready());
    server.allow_crashes();
    HttpReply crash = get(server.port(), "/crash");
    EXPECT_FALSE(crash.complete);
    EXPECT_TRUE(eventually([&] {
        return server.log().find("killed by signal 6") != std::string::npos;
    })) << server.log();
    EXPECT_EQ(get(server.port(), "/").status, 200);
}

TEST(ForkServer, BadFlagsGetUsageAndExitTwo) {
    RunResult bad = run(server_binary(), {"--max-children", "0"});
    EXPECT_EQ(bad.exit_code, 2);
    EXPECT_NE(bad.err.find("usage:"), std::string::npos);
    EXPECT_TRUE(bad.out.empty());
    RunResult help = run(server_binary(), {"--help"});
    EXPECT_EQ(help.exit_code, 0);
    EXPECT_NE(help.out.find("--max-children"), std::string::npos);
}

TEST(ForkServer, APortInUseIsReportedWithExitOne) {
    Server first;
    ASSERT_TRUE(first.ready());
    RunResult second =
        run(server_binary(), {"--listen", "127.0.0.1:" + std::to_string(first.port())});
    EXPECT_EQ(second.exit_code, 1);
    EXPECT_NE(second.err.find("bind 127.0.0.1:" + std::to_string(first.port()) +
                              ": Address already in use"),
              std::string::npos)
        << second.err;
}

}  // namespace
}  // namespace forklab::test
