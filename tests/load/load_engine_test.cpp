/// \file
/// \brief The load client's engine against servers that misbehave on purpose: a bad response is
/// never a success, and every request ends as exactly one success or one error of a named kind.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <string>
#include <thread>

#include "forklab/fd.hpp"
#include "forklab/net.hpp"
#include "load_engine.hpp"

namespace forklab::load {
namespace {

/// Reads one request head from \p fd. False at end-of-file or error.
bool read_request(int fd, std::string* text = nullptr) {
    std::string in;
    char buf[4096];
    while (in.find("\r\n\r\n") == std::string::npos) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n <= 0) {
            return false;
        }
        in.append(buf, static_cast<std::size_t>(n));
    }
    if (text != nullptr) {
        *text = in;
    }
    return true;
}

/// Waits until the client closes or resets \p fd.
void until_client_leaves(int fd) {
    char buf[256];
    while (::read(fd, buf, sizeof buf) > 0) {
    }
}

void say(int fd, const std::string& text) {
    write_all(fd, text.data(), text.size());
}

/// A one-thread server on a free loopback port; \p serve runs for each accepted connection,
/// one at a time, and the connection is closed when it returns.
class FakeServer {
  public:
    explicit FakeServer(std::function<void(int fd)> serve)
        : listener_(listen_on({"127.0.0.1", 0})), at_(local_endpoint(listener_.get())) {
        thread_ = std::thread([this, serve] {
            for (;;) {
                Fd conn(::accept(listener_.get(), nullptr, nullptr));
                if (!conn || stop_) {
                    return;
                }
                ++connections_;
                serve(conn.get());
            }
        });
    }
    ~FakeServer() {
        stop_ = true;
        ::shutdown(listener_.get(), SHUT_RDWR);  // wakes accept
        thread_.join();
    }
    FakeServer(const FakeServer&) = delete;
    FakeServer& operator=(const FakeServer&) = delete;

    /// Runs \p requests requests from one connection slot.
    LoadResult load(long requests, bool keep_alive = false, long timeout_ms = 2000) {
        LoadConfig c;
        c.target = at_;
        c.concurrency = 1;
        c.requests = requests;
        c.keep_alive = keep_alive;
        c.timeout_ms = timeout_ms;
        return run_load(c);
    }
    [[nodiscard]] int connections() const { return connections_; }
    [[nodiscard]] const Endpoint& at() const { return at_; }

  private:
    Fd listener_;
    Endpoint at_;
    std::atomic<bool> stop_{false};
    std::atomic<int> connections_{0};
    std::thread thread_;
};

void expect_accounted(const LoadResult& r) {
    EXPECT_EQ(r.requests, r.ok + r.error_count()) << "every request ends exactly once";
    EXPECT_EQ(static_cast<long>(r.latency.count()), r.ok) << "one latency per success";
}

TEST(LoadEngine, CountsWholeResponsesAndAsksForAClose) {
    std::atomic<int> asked_close{0};
    FakeServer s([&](int fd) {
        std::string request;
        if (read_request(fd, &request)) {
            asked_close += request.rfind("GET / HTTP/1.1\r\n", 0) == 0 &&
                           request.find("\r\nConnection: close\r\n") != std::string::npos;
            say(fd, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
        }
    });
    LoadResult r = s.load(20);
    EXPECT_EQ(r.ok, 20);
    EXPECT_EQ(r.error_count(), 0);
    EXPECT_EQ(asked_close, 20);
    EXPECT_EQ(s.connections(), 20) << "one connection per request";
    expect_accounted(r);
}

TEST(LoadEngine, AResponseInPiecesIsOneSuccess) {
    FakeServer s([](int fd) {
        int one = 1;
        ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (read_request(fd)) {
            for (const char* piece :
                 {"HTTP/1.1 200 OK\r\nContent-Le", "ngth: 5\r\n\r", "\nhel", "lo"}) {
                say(fd, piece);
            }
        }
    });
    LoadResult r = s.load(10);
    EXPECT_EQ(r.ok, 10) << "a response without Connection: close ends with the server's close";
    EXPECT_EQ(r.error_count(), 0);
    expect_accounted(r);
}

TEST(LoadEngine, KeepAliveReusesOneConnection) {
    FakeServer s([](int fd) {
        while (read_request(fd)) {
            say(fd, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
        }
    });
    LoadResult r = s.load(50, true);
    EXPECT_EQ(r.ok, 50);
    EXPECT_EQ(r.error_count(), 0);
    EXPECT_EQ(s.connections(), 1);
    expect_accounted(r);
}

TEST(LoadEngine, KeepAliveFollowsTheServersClose) {
    FakeServer s([](int fd) {
        if (read_request(fd)) {
            say(fd, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
        }
    });
    LoadResult r = s.load(10, true);
    EXPECT_EQ(r.ok, 10);
    EXPECT_EQ(r.error_count(), 0);
    EXPECT_EQ(s.connections(), 10) << "a new connection after each announced close";
}

/// Runs 5 requests against a server answering each with \p answer, then closing.
LoadResult five_answered_with(const std::string& answer) {
    FakeServer s([&answer](int fd) {
        if (read_request(fd)) {
            say(fd, answer);
        }
    });
    LoadResult r = s.load(5);
    expect_accounted(r);
    return r;
}

TEST(LoadEngine, SortsBadResponsesByKindAndNeverCountsThemAsSuccesses) {
    struct Case {
        std::string answer;
        const char* kind;
    };
    for (const Case& c : {
             Case{"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", "short"},
             Case{"HTTP/1.1 200 OK\r\nContent-Le", "short"},
             Case{"I am not HTTP\r\n\r\n", "malformed"},
             Case{"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok, and more", "malformed"},
             Case{"HTTP/1.1 200 OK\r\n\r\nno length", "malformed"},
             Case{"HTTP/1.1 503 Busy\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", "status"},
             Case{"", "reset"},  // closes without a word
         }) {
        LoadResult r = five_answered_with(c.answer);
        EXPECT_EQ(r.ok, 0) << c.answer;
        EXPECT_EQ(r.errors[c.kind], 5) << c.answer;
        EXPECT_EQ(r.error_count(), 5) << c.answer;
    }
}

TEST(LoadEngine, AServerThatDoesNotCloseAfterConnectionCloseIsATimeout) {
    FakeServer s([](int fd) {
        if (read_request(fd)) {
            say(fd, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
            until_client_leaves(fd);
        }
    });
    LoadResult r = s.load(2, false, 200);
    EXPECT_EQ(r.ok, 0);
    EXPECT_EQ(r.errors["timeout"], 2);
    expect_accounted(r);
}

TEST(LoadEngine, ASilentServerIsATimeout) {
    Fd listener = listen_on({"127.0.0.1", 0});  // the kernel completes handshakes; nobody answers
    LoadConfig c;
    c.target = local_endpoint(listener.get());
    c.concurrency = 2;
    c.requests = 2;
    c.timeout_ms = 200;
    LoadResult r = run_load(c);
    EXPECT_EQ(r.ok, 0);
    EXPECT_EQ(r.errors["timeout"], 2);
    expect_accounted(r);
}

TEST(LoadEngine, ARefusedConnectionIsCounted) {
    Endpoint closed;
    {
        Fd probe = listen_on({"127.0.0.1", 0});
        closed = local_endpoint(probe.get());
    }  // nothing listens there any more
    LoadConfig c;
    c.target = closed;
    c.concurrency = 2;
    c.requests = 6;
    LoadResult r = run_load(c);
    EXPECT_EQ(r.ok, 0);
    EXPECT_EQ(r.errors["refused"], 6);
    expect_accounted(r);
}

TEST(LoadEngine, ADurationBoundsTheRun) {
    FakeServer s([](int fd) {
        while (read_request(fd)) {
            say(fd, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
        }
    });
    LoadConfig c;
    c.target = s.at();
    c.concurrency = 1;
    c.keep_alive = true;
    c.duration_ms = 200;
    LoadResult r = run_load(c);
    EXPECT_GT(r.ok, 0);
    EXPECT_EQ(r.error_count(), 0);
    EXPECT_GE(r.elapsed_s, 0.2);
    EXPECT_LT(r.elapsed_s, 2.0);
    EXPECT_GT(r.rate(), 0);
}

TEST(LoadEngine, AReadableStopDescriptorEndsTheRunEarly) {
    FakeServer s([](int fd) {
        while (read_request(fd)) {
            say(fd, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
        }
    });
    Pipe stop = make_pipe();
    ASSERT_EQ(::write(stop.write_end.get(), "x", 1), 1);  // as a signal handler would
    LoadConfig c;
    c.target = s.at();
    c.concurrency = 1;
    c.keep_alive = true;
    c.duration_ms = 60000;
    c.stop_fd = stop.read_end.get();
    LoadResult r = run_load(c);
    EXPECT_TRUE(r.stopped);
    EXPECT_LT(r.elapsed_s, 5.0);
    EXPECT_EQ(r.error_count(), 0);
    expect_accounted(r);
}

}  // namespace
}  // namespace forklab::load
