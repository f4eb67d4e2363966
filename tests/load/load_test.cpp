/// \file
/// \brief The load client must never count a bad response as a success.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <thread>

#include "forklab/net.hpp"
#include "harness/server.hpp"
#include "load_engine.hpp"
#include "response_parser.hpp"

namespace forklab::load {
namespace {

using State = ResponseParser::State;

TEST(ResponseParser, ACompleteResponseInPieces) {
    std::string text =
        "HTTP/1.1 200 OK\r\nContent-Length: 13\r\nConnection: close\r\n\r\nHello, world\n";
    ResponseParser p;
    for (std::size_t i = 0; i + 1 < text.size(); ++i) {
        ASSERT_EQ(p.feed(text.substr(i, 1)), State::incomplete) << i;
    }
    ASSERT_EQ(p.feed(text.substr(text.size() - 1)), State::complete);
    EXPECT_EQ(p.status(), 200);
    EXPECT_TRUE(p.close());
    p.reset();
    EXPECT_EQ(p.feed("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"), State::complete);
    EXPECT_EQ(p.status(), 404);
    EXPECT_FALSE(p.close());
}

TEST(ResponseParser, WhatIsNotAResponseIsMalformed) {
    for (std::string bad : {std::string("HTTP/1.1 200 OK\r\n\r\n"),  // no Content-Length
                            std::string("HTTX/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
                            std::string("HTTP/1.1 2x0 OK\r\nContent-Length: 0\r\n\r\n"),
                            std::string("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nabc"),
                            std::string("HTTP/1.1 200 OK\r\nContent-Length: z\r\n\r\n"),
                            std::string("garbage\r\n\r\n")}) {
        ResponseParser p;
        EXPECT_EQ(p.feed(bad), State::malformed) << bad;
    }
    ResponseParser p;
    ASSERT_EQ(p.feed("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx"), State::complete);
    EXPECT_EQ(p.feed("y"), State::malformed) << "bytes after a complete response";
}

/// A one-thread server that answers each connection with \p answer (given the request).
class FakeServer {
  public:
    explicit FakeServer(std::function<void(int fd)> answer) {
        listener_ = listen_on({"127.0.0.1", 0});
        port_ = local_endpoint(listener_.get()).port;
        thread_ = std::thread([this, answer] {
            for (;;) {
                Fd conn(::accept(listener_.get(), nullptr, nullptr));
                if (!conn || stop_) {
                    return;
                }
                char buf[4096];
                if (::read(conn.get(), buf, sizeof buf) > 0) {
                    answer(conn.get());
                }
            }
        });
    }
    ~FakeServer() {
        stop_ = true;
        ::shutdown(listener_.get(), SHUT_RDWR);
        thread_.join();
    }
    LoadResult load(long requests, long timeout_ms = 2000) {
        LoadConfig c;
        c.target = {"127.0.0.1", port_};
        c.concurrency = 1;
        c.requests = requests;
        c.timeout_ms = timeout_ms;
        return run_load(c);
    }

  private:
    Fd listener_;
    std::uint16_t port_ = 0;
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

void say(int fd, const std::string& text) {
    write_all(fd, text.data(), text.size());
}

TEST(Loadgen, CountsGoodResponses) {
    FakeServer s([](int fd) {
        say(fd, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
    });
    LoadResult r = s.load(20);
    EXPECT_EQ(r.ok, 20);
    EXPECT_EQ(r.error_count(), 0);
    EXPECT_EQ(r.latency_us.size(), 20u);
}

TEST(Loadgen, SortsBadResponsesByKind) {
    {
        FakeServer s([](int fd) { say(fd, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort"); });
        LoadResult r = s.load(5);
        EXPECT_EQ(r.ok, 0);
        EXPECT_EQ(r.errors["short"], 5);
    }
    {
        FakeServer s([](int fd) { say(fd, "I am not HTTP\r\n\r\n"); });
        LoadResult r = s.load(5);
        EXPECT_EQ(r.ok, 0);
        EXPECT_EQ(r.errors["malformed"], 5);
    }
    {
        FakeServer s([](int fd) {
            say(fd, "HTTP/1.1 503 Busy\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        });
        LoadResult r = s.load(5);
        EXPECT_EQ(r.ok, 0);
        EXPECT_EQ(r.errors["status"], 5);
    }
    {
        FakeServer s([](int) {});  // closes without a word
        LoadResult r = s.load(5);
        EXPECT_EQ(r.ok, 0);
        EXPECT_EQ(r.errors["reset"], 5);
    }
}

TEST(Loadgen, ASilentServerIsATimeout) {
    Fd listener = listen_on({"127.0.0.1", 0});  // accepts (in the kernel) and never answers
    LoadConfig c;
    c.target = local_endpoint(listener.get());
    c.concurrency = 2;
    c.requests = 2;
    c.timeout_ms = 200;
    LoadResult r = run_load(c);
    EXPECT_EQ(r.ok, 0);
    EXPECT_EQ(r.errors["timeout"], 2);
}

TEST(Loadgen, ARefusedConnectionIsCounted) {
    Endpoint closed;
    {
        Fd probe = listen_on({"127.0.0.1", 0});
        closed = local_endpoint(probe.get());
    }
    LoadConfig c;
    c.target = closed;
    c.concurrency = 1;
    c.requests = 3;
    LoadResult r = run_load(c);
    EXPECT_EQ(r.ok, 0);
    EXPECT_EQ(r.errors["refused"], 3);
}

TEST(Ceiling, ServesLoadWithoutErrorsBothWays) {
    test::Server ceiling({}, FORKLAB_CEILING);
    ASSERT_TRUE(ceiling.ready());
    for (bool keep_alive : {false, true}) {
        LoadConfig c;
        c.target = {"127.0.0.1", static_cast<std::uint16_t>(ceiling.port())};
        c.concurrency = 8;
        c.requests = 400;
        c.keep_alive = keep_alive;
        LoadResult r = run_load(c);
        EXPECT_EQ(r.ok, 400) << (keep_alive ? "keep-alive" : "one per connection");
        EXPECT_EQ(r.error_count(), 0);
    }
    EXPECT_EQ(ceiling.stop(), 0);
}

}  // namespace
}  // namespace forklab::load
