/// \file
/// \brief The epoll loop of the load client: one thread, many non-blocking connections.
#include "event_loop.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <limits>
#include <system_error>
#include <vector>

#include "forklab/error.hpp"
#include "forklab/fd.hpp"
#include "response_parser.hpp"

namespace forklab::load {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr std::uint64_t stop_key = std::numeric_limits<std::uint64_t>::max();
constexpr milliseconds rest_after_connect_failure{10};
constexpr int tick_ms = 10;  // the longest wait in epoll: bounds timeout and end-time precision

/// One client connection (a slot of the concurrency) and where its request stands.
struct Conn {
    enum class Phase {
        idle,        ///< No request; may start one at rest_until.
        connecting,  ///< Non-blocking connect in flight (waits for EPOLLOUT).
        reading,     ///< Request sent; the response is arriving.
        closing,     ///< A complete response announced a close; waits for the server's EOF.
    };
    Phase phase = Phase::idle;
    Fd fd;
    ResponseParser parser;
    Clock::time_point started{};     ///< When the current request was issued.
    Clock::time_point rest_until{};  ///< An idle slot starts no request before this.
    std::uint64_t latency_us = 0;    ///< Closing phase: the latency to the response's last byte.
};

class EventLoop {
  public:
    explicit EventLoop(const LoadConfig& config);
    LoadResult run();

  private:
    [[nodiscard]] bool may_issue(Clock::time_point now) const;
    void start(Conn& c, std::uint64_t key, Clock::time_point now);
    void send_request(Conn& c);
    void on_connected(Conn& c, std::uint64_t key, std::uint32_t events);
    void on_readable(Conn& c, Clock::time_point now);
    void on_complete(Conn& c, Clock::time_point now);
    void succeed(Conn& c, std::uint64_t latency_us);
    void fail(Conn& c, const char* kind, bool abort = true);
    void release(Conn& c, bool abort);

    const LoadConfig& config_;
    std::string request_;
    sockaddr_storage addr_{};
    socklen_t addr_len_ = 0;
    Fd epoll_;
    std::vector<Conn> conns_;
    std::vector<char> buf_;
    LoadResult result_;
    long busy_ = 0;  // slots not idle
    Clock::time_point end_{};
};

EventLoop::EventLoop(const LoadConfig& config)
    : config_(config), conns_(static_cast<std::size_t>(config.concurrency)), buf_(64 * 1024) {
    request_ = "GET " + config.path + " HTTP/1.1\r\nHost: " + config.target.to_string() +
               (config.keep_alive ? "\r\n\r\n" : "\r\nConnection: close\r\n\r\n");
    auto* v4 = reinterpret_cast<sockaddr_in*>(&addr_);
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&addr_);
    if (::inet_pton(AF_INET, config.target.host.c_str(), &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(config.target.port);
        addr_len_ = sizeof(sockaddr_in);
    } else if (::inet_pton(AF_INET6, config.target.host.c_str(), &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(config.target.port);
        addr_len_ = sizeof(sockaddr_in6);
    } else {
        throw std::system_error(EINVAL, std::generic_category(), "inet_pton " + config.target.host);
    }
    epoll_.reset(::epoll_create1(EPOLL_CLOEXEC));
    if (!epoll_) {
        throw_errno("epoll_create1");
    }
    if (config.stop_fd >= 0) {
        epoll_event ev{EPOLLIN, {.u64 = stop_key}};
        if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, config.stop_fd, &ev) == -1) {
            throw_errno("epoll_ctl stop_fd");
        }
    }
}

bool EventLoop::may_issue(Clock::time_point now) const {
    if (result_.stopped) {
        return false;
    }
    return config_.requests > 0 ? result_.requests < config_.requests : now < end_;
}

void EventLoop::start(Conn& c, std::uint64_t key, Clock::time_point now) {
    ++result_.requests;
    ++busy_;
    c.started = now;
    c.parser.reset();
    c.phase = Conn::Phase::connecting;
    c.fd.reset(::socket(addr_.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!c.fd) {
        fail(c, "connect");  // EMFILE, ENFILE, ENOBUFS, ENOMEM: the client's own limits
        return;
    }
    if (config_.keep_alive) {
        // Small requests follow small responses on one connection: never wait for Nagle.
        int one = 1;
        (void)::setsockopt(c.fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    if (::connect(c.fd.get(), reinterpret_cast<sockaddr*>(&addr_), addr_len_) == -1 &&
        errno != EINPROGRESS) {
        fail(c, errno == ECONNREFUSED ? "refused" : "connect");  // EADDRNOTAVAIL: no free port
        return;
    }
    // Over loopback the handshake has usually completed by the time connect() returns, even when
    // it says EINPROGRESS: try the request at once, and wait for EPOLLOUT only if the socket is
    // still connecting (send fails with EAGAIN). That saves a wake-up, getsockopt and epoll_ctl.
    ssize_t n = ::send(c.fd.get(), request_.data(), request_.size(), MSG_NOSIGNAL);
    bool sent = n == static_cast<ssize_t>(request_.size());
    if (!sent && !(n == -1 && errno == EAGAIN)) {
        fail(c, n == -1 && errno == ECONNREFUSED ? "refused" : "reset");
        return;
    }
    epoll_event ev{sent ? EPOLLIN : EPOLLOUT, {.u64 = key}};
    if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, c.fd.get(), &ev) == -1) {
        fail(c, "connect");  // ENOMEM, ENOSPC (max_user_watches): the client's own limits
        return;
    }
    if (sent) {
        c.phase = Conn::Phase::reading;
    }
}

void EventLoop::send_request(Conn& c) {
    // A request (at most a few KiB) is far smaller than a fresh socket buffer, and the previous
    // response has been read in full: one send takes it all or the connection has failed.
    ssize_t n = ::send(c.fd.get(), request_.data(), request_.size(), MSG_NOSIGNAL);
    if (n != static_cast<ssize_t>(request_.size())) {
        fail(c, "reset");  // ECONNRESET, EPIPE
        return;
    }
    c.phase = Conn::Phase::reading;
}

void EventLoop::on_connected(Conn& c, std::uint64_t key, std::uint32_t events) {
    int err = 0;
    socklen_t len = sizeof err;
    if (::getsockopt(c.fd.get(), SOL_SOCKET, SO_ERROR, &err, &len) == -1) {
        err = errno;
    }
    if (err == 0 && (events & (EPOLLERR | EPOLLHUP)) != 0) {
        err = ECONNRESET;
    }
    if (err != 0) {
        fail(c, err == ECONNREFUSED ? "refused" : err == ECONNRESET ? "reset" : "connect");
        return;
    }
    epoll_event ev{EPOLLIN, {.u64 = key}};
    if (::epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, c.fd.get(), &ev) == -1) {
        fail(c, "connect");
        return;
    }
    send_request(c);
}

void EventLoop::on_readable(Conn& c, Clock::time_point now) {
    // Bounded: each pass consumes bytes the kernel already holds, or ends the loop.
    while (c.phase == Conn::Phase::reading || c.phase == Conn::Phase::closing) {
        ssize_t n = ::read(c.fd.get(), buf_.data(), buf_.size());
        if (n == -1) {
            if (errno == EINTR) {
                continue;
            }
            if (errno != EAGAIN) {
                fail(c, "reset");  // ECONNRESET, ETIMEDOUT ... the connection failed
            }
            return;
        }
        if (n == 0) {
            if (c.phase == Conn::Phase::closing) {
                succeed(c, c.latency_us);  // the server closed after its response: the normal end
            } else {
                fail(c, c.parser.empty() ? "reset" : "short");
            }
            return;
        }
        auto state = c.parser.feed(std::string_view(buf_.data(), static_cast<std::size_t>(n)));
        if (state == ResponseParser::State::malformed) {
            fail(c, "malformed");  // also bytes after a complete response
            return;
        }
        if (state == ResponseParser::State::complete && c.phase == Conn::Phase::reading) {
            on_complete(c, now);
            if (c.phase != Conn::Phase::closing) {
                return;  // a next request is in flight (nothing to read yet), or the slot is idle
            }
            // Closing: the server's EOF usually arrived with the body; the next read sees it.
        }
    }
}

void EventLoop::on_complete(Conn& c, Clock::time_point now) {
    auto latency = static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - c.started).count());
    if (c.parser.close() || !config_.keep_alive) {
        // Let the server close first (it must after `Connection: close`), so the TIME_WAIT state
        // lands on its side. The request counts only once that close has come cleanly.
        c.latency_us = latency;
        c.phase = Conn::Phase::closing;
        return;
    }
    if (c.parser.status() != 200) {
        fail(c, "status");
        return;
    }
    ++result_.ok;
    result_.latency.record(latency);
    if (!may_issue(now)) {
        --busy_;
        release(c, false);  // the client closes first: at most one TIME_WAIT per slot per run
        return;
    }
    // Keep-alive: the next request on the same connection.
    ++result_.requests;
    c.started = Clock::now();
    c.parser.reset();
    send_request(c);
}

void EventLoop::succeed(Conn& c, std::uint64_t latency_us) {
    if (c.parser.status() != 200) {
        fail(c, "status", false);  // a clean exchange: nothing to abort
        return;
    }
    ++result_.ok;
    result_.latency.record(latency_us);
    --busy_;
    release(c, false);
}

void EventLoop::fail(Conn& c, const char* kind, bool abort) {
    ++result_.errors[kind];
    --busy_;
    bool connect_failed = c.phase == Conn::Phase::connecting;
    release(c, abort);
    if (connect_failed) {
        c.rest_until = Clock::now() + rest_after_connect_failure;
    }
}

void EventLoop::release(Conn& c, bool abort) {
    if (abort && c.fd) {
        // The last resort, only for a request that failed: reset instead of a FIN, so no
        // TIME_WAIT is left on the client's ports and the server learns at once.
        linger hard{1, 0};
        (void)::setsockopt(c.fd.get(), SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
    }
    c.fd.reset();  // close() also takes it out of the epoll set
    c.phase = Conn::Phase::idle;
}

LoadResult EventLoop::run() {
    Clock::time_point begin = Clock::now();
    end_ = begin + milliseconds(config_.duration_ms);
    const milliseconds timeout(config_.timeout_ms);
    std::vector<epoll_event> events(256);
    // Bounded: requests or time run out, then each request in flight ends within timeout_ms.
    for (;;) {
        Clock::time_point now = Clock::now();
        bool more = may_issue(now);
        for (std::size_t i = 0; i < conns_.size(); ++i) {
            Conn& c = conns_[i];
            if (c.phase == Conn::Phase::idle) {
                if (more && now >= c.rest_until) {
                    start(c, i, now);
                    more = may_issue(now);
                }
            } else if (now - c.started > timeout) {
                fail(c, "timeout");
            }
        }
        if (busy_ == 0 && !may_issue(now)) {
            break;
        }
        int n = ::epoll_wait(epoll_.get(), events.data(), static_cast<int>(events.size()), tick_ms);
        if (n == -1) {
            if (errno == EINTR) {
                continue;
            }
            throw_errno("epoll_wait");
        }
        now = Clock::now();
        for (int k = 0; k < n; ++k) {
            std::uint64_t key = events[k].data.u64;
            if (key == stop_key) {
                result_.stopped = true;
                (void)::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, config_.stop_fd, nullptr);
                continue;
            }
            Conn& c = conns_[key];
            if (c.phase == Conn::Phase::connecting) {
                on_connected(c, key, events[k].events);
            } else if (c.phase != Conn::Phase::idle) {
                on_readable(c, now);
            }
        }
    }
    result_.elapsed_s = std::chrono::duration<double>(Clock::now() - begin).count();
    return std::move(result_);
}

}  // namespace

LoadResult run_event_loop(const LoadConfig& config) {
    return EventLoop(config).run();
}

}  // namespace forklab::load
