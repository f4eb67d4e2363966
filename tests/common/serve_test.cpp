#include <gtest/gtest.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "forklab/net.hpp"
#include "forklab/serve.hpp"
#include "harness/hostile.hpp"
#include "harness/http_client.hpp"
#include "harness/wait.hpp"

namespace {

using namespace std::chrono_literals;
using forklab::ServeEnd;

/// One TCP connection on loopback: the client end, and serve_one() running on the server end.
class Exchange {
  public:
    explicit Exchange(forklab::ServeLimits limits = {}) {
        forklab::Fd listener = forklab::listen_on({"127.0.0.1", 0});
        client_ = forklab::test::connect_to(forklab::local_endpoint(listener.get()).port);
        forklab::Fd conn(::accept(listener.get(), nullptr, nullptr));
        server_ = std::thread([this, limits, c = std::move(conn)]() mutable {
            end_ = forklab::serve_one(std::move(c), forklab::AppContext{}, limits);
            done_ = true;
        });
    }
    ~Exchange() {
        if (server_.joinable()) {
            server_.join();
        }
    }
    int client() const { return client_.get(); }
    /// True once serve_one() has returned.
    bool done() const { return done_.load(); }
    ServeEnd end() {
        server_.join();
        return end_;
    }

  private:
    forklab::Fd client_;
    std::thread server_;
    ServeEnd end_ = ServeEnd::client_closed;
    std::atomic<bool> done_{false};
};

TEST(ServeOne, AnswersARequestSentInPiecesThenCloses) {
    Exchange x;
    for (std::string piece : {"GE", "T / HT", "TP/1.1\r\nHo", "st: a\r", "\n\r\n"}) {
        ASSERT_TRUE(forklab::test::send_all(x.client(), piece));
        std::this_thread::yield();
    }
    auto reply = forklab::test::read_reply(x.client(), 5s);
    ASSERT_TRUE(reply.complete) << reply.error;
    EXPECT_EQ(reply.status, 200);
    EXPECT_EQ(reply.body, "Hello, world\n");
    EXPECT_EQ(reply.header("connection"), "close");
    EXPECT_TRUE(forklab::test::closed_within(x.client(), 5s));
    EXPECT_EQ(x.end(), ServeEnd::answered);
}

TEST(ServeOne, HeadGetsNoBody) {
    Exchange x;
    ASSERT_TRUE(forklab::test::send_all(x.client(), "HEAD /bytes/100 HTTP/1.1\r\n\r\n"));
    auto reply = forklab::test::read_reply(x.client(), 5s, true);
    ASSERT_TRUE(reply.complete) << reply.error;
    EXPECT_EQ(reply.header("content-length"), "100");
    EXPECT_TRUE(forklab::test::closed_within(x.client(), 5s)) << "bytes after a HEAD response";
}

TEST(ServeOne, ASilentClientGets408WithinTheReadTimeout) {
    auto start = std::chrono::steady_clock::now();
    Exchange x({.read_timeout_ms = 200, .write_timeout_ms = 1000});
    ASSERT_TRUE(forklab::test::send_all(x.client(), "GET / HT"));  // and then nothing
    auto reply = forklab::test::read_reply(x.client(), 5s);
    EXPECT_EQ(reply.status, 408);
    EXPECT_EQ(x.end(), ServeEnd::timed_out);
    EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
}

// A byte every few milliseconds must not extend the deadline: it bounds the whole head.
TEST(ServeOne, ATricklingClientIsCutOffAtTheDeadline) {
    auto start = std::chrono::steady_clock::now();
    Exchange x({.read_timeout_ms = 300, .write_timeout_ms = 1000});
    std::thread trickle([&] {
        for (int i = 0; i < 400; ++i) {
            if (!forklab::test::send_all(x.client(), "X")) {
                break;
            }
            std::this_thread::sleep_for(5ms);  // pacing the load, not synchronizing
        }
    });
    EXPECT_EQ(x.end(), ServeEnd::timed_out);
    EXPECT_LT(std::chrono::steady_clock::now() - start, 1500ms);
    ::shutdown(x.client(), SHUT_RDWR);
    trickle.join();
}

// The server stops reading at the limit while the client is still sending: the 414 must still
// reach the client instead of being destroyed by a reset.
TEST(ServeOne, AnOversizedLineGets414NotAReset) {
    Exchange x;
    std::string line = "GET /" + std::string(64 * 1024, 'a') + " HTTP/1.1\r\n\r\n";
    std::thread sender([&] { forklab::test::send_all(x.client(), line); });
    auto reply = forklab::test::read_reply(x.client(), 5s);
    sender.join();
    EXPECT_EQ(reply.status, 414) << reply.error;
    EXPECT_EQ(x.end(), ServeEnd::bad_request);
}

// A socket that is readable every instant (a flood of empty lines) must neither stretch the read
// deadline nor grow a buffer: the head limit cuts it long before the 20 s deadline would.
TEST(ServeOne, AFloodOfEmptyLinesIsCutWhileItLasts) {
    Exchange x({.read_timeout_ms = 20000, .write_timeout_ms = 1000});
    forklab::test::Flood flood(forklab::Fd(::dup(x.client())), std::string(16384, '\n'), 15s);
    ASSERT_TRUE(forklab::test::eventually([&] { return x.done(); }, 10s));
    EXPECT_TRUE(flood.running() || flood.cuts() > 0) << "cut by the server, not by the flood's end";
    ::shutdown(x.client(), SHUT_RDWR);
    flood.stop();
    EXPECT_EQ(x.end(), ServeEnd::bad_request);
}

// The write deadline bounds the whole response: a client that takes a little every few
// milliseconds makes each send progress, and must still be cut when the deadline passes.
TEST(ServeOne, ASlowReaderIsCutAtTheWriteDeadline) {
    Exchange x({.read_timeout_ms = 1000, .write_timeout_ms = 300});
    ASSERT_TRUE(forklab::test::send_all(x.client(), "GET /bytes/16777216 HTTP/1.1\r\n\r\n"));
    std::atomic<bool> reading{true};
    std::thread reader([&] {
        forklab::test::read_slowly(x.client(), 16384, 10ms, 20s);  // 1.6 MB/s: 10 s for all
        reading = false;
    });
    bool cut = forklab::test::eventually([&] { return x.done(); }, 5s);
    ::shutdown(x.client(), SHUT_RDWR);  // ends the reader
    reader.join();
    ASSERT_TRUE(cut) << "still sending to a client that keeps taking a little";
    EXPECT_EQ(x.end(), ServeEnd::write_failed);
}

// Bytes that cannot start a request get 400 at once, not 408 at the end of the read timeout.
TEST(ServeOne, GarbageGets400AtOnce) {
    for (std::string garbage : {std::string("GARBAGE\n"),
                                std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11)}) {
        Exchange x({.read_timeout_ms = 20000, .write_timeout_ms = 1000});
        ASSERT_TRUE(forklab::test::send_all(x.client(), garbage));
        auto reply = forklab::test::read_reply(x.client(), 10s);
        EXPECT_EQ(reply.status, 400) << reply.error;
        ::shutdown(x.client(), SHUT_RDWR);
        EXPECT_EQ(x.end(), ServeEnd::bad_request);
    }
}

TEST(ServeOne, AClientThatLeavesEarlyEndsQuietly) {
    Exchange x;
    ASSERT_TRUE(forklab::test::send_all(x.client(), "GET / HTTP/1.1\r\n"));
    ::shutdown(x.client(), SHUT_WR);
    EXPECT_EQ(x.end(), ServeEnd::client_closed);
}

}  // namespace
