/// \file
/// \brief The epoll loop of the load client.
#include "load_engine.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>

#include "forklab/error.hpp"
#include "forklab/fd.hpp"
#include "response_parser.hpp"

namespace forklab::load {

namespace {

using Clock = std::chrono::steady_clock;

/// One client connection and where it stands.
struct Conn {
    enum class Phase { idle, connecting, reading, draining } phase = Phase::idle;
    Fd fd;
    ResponseParser parser;
    Clock::time_point started{};  // when the current request was issued
};

class Engine {
  public:
    explicit Engine(const LoadConfig& config);
    LoadResult run();

  private:
    bool may_issue(Clock::time_point now) const;
    void start(std::size_t i);
    void send_request(std::size_t i);
    void on_event(std::size_t i, std::uint32_t events);
    void on_readable(std::size_t i);
    void finish(std::size_t i, const char* error);
    void drop(std::size_t i);

    const LoadConfig& config_;
    std::string request_;
    sockaddr_storage addr_{};
    socklen_t addr_len_ = 0;
    Fd epoll_;
    std::vector<Conn> conns_;
    LoadResult result_;
    long issued_ = 0;
    Clock::time_point begin_{};
    Clock::time_point end_{};
};

Engine::Engine(const LoadConfig& config) : config_(config), conns_(config.concurrency) {
    request_ = "GET " + config.path + " HTTP/1.1\r\nHost: " + config.target.to_string() +
               (config.keep_alive ? "\r\n\r\n" : "\r\nConnection: close\r\n\r\n");
    auto* v4 = reinterpret_cast<sockaddr_in*>(&addr_);
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&addr_);
    if (::inet_pton(AF_INET, config.target.host.c_str(), &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(config.target.port);
        addr_len_ = sizeof(sockaddr_in);
    } else {
        ::inet_pton(AF_INET6, config.target.host.c_str(), &v6->sin6_addr);
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(config.target.port);
        addr_len_ = sizeof(sockaddr_in6);
    }
    epoll_.reset(::epoll_create1(EPOLL_CLOEXEC));
    if (!epoll_) {
        throw_errno("epoll_create1");
    }
    result_.latency_us.reserve(1 << 20);
}

bool Engine::may_issue(Clock::time_point now) const {
    if (config_.requests > 0) {
        return issued_ < config_.requests;
    }
    return now < end_;
}

void Engine::start(std::size_t i) {
    Conn& c = conns_[i];
    c.fd.reset(::socket(addr_.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!c.fd) {
        finish(i, "connect");
        return;
    }
    int one = 1;
    ::setsockopt(c.fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    ++issued_;
    c.started = Clock::now();
    c.parser.reset();
    int r = ::connect(c.fd.get(), reinterpret_cast<sockaddr*>(&addr_), addr_len_);
    if (r == -1 && errno != EINPROGRESS) {
        finish(i, errno == ECONNREFUSED ? "refused" : "connect");
        return;
    }
    c.phase = Conn::Phase::connecting;
    epoll_event ev{EPOLLOUT, {.u64 = i}};
    ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, c.fd.get(), &ev);
}

void Engine::send_request(std::size_t i) {
    Conn& c = conns_[i];
    // A request is far smaller than a socket buffer: one send either takes it all or fails.
    ssize_t n = ::send(c.fd.get(), request_.data(), request_.size(), MSG_NOSIGNAL);
    if (n != static_cast<ssize_t>(request_.size())) {
        finish(i, n == -1 && (errno == ECONNRESET || errno == EPIPE) ? "reset" : "short");
        return;
    }
    c.phase = Conn::Phase::reading;
}

void Engine::on_event(std::size_t i, std::uint32_t events) {
    Conn& c = conns_[i];
    if (c.phase == Conn::Phase::connecting) {
        int err = 0;
        socklen_t len = sizeof err;
        ::getsockopt(c.fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0 || (events & (EPOLLERR | EPOLLHUP)) != 0) {
            finish(i, err == ECONNREFUSED ? "refused" : err == ECONNRESET ? "reset" : "connect");
            return;
        }
        epoll_event ev{EPOLLIN, {.u64 = i}};
        ::epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, c.fd.get(), &ev);
        send_request(i);
        return;
    }
    on_readable(i);
}

void Engine::on_readable(std::size_t i) {
    Conn& c = conns_[i];
    static char buf[65536];
    for (;;) {
        ssize_t n = ::read(c.fd.get(), buf, sizeof buf);
        if (n == -1) {
            if (errno == EINTR) {
                continue;
            }
            if (errno == EAGAIN) {
                return;
            }
            finish(i, errno == ECONNRESET ? "reset" : "short");
            return;
        }
        if (n == 0) {
            if (c.phase == Conn::Phase::draining) {
                drop(i);  // the server closed after its response: the normal end
            } else {
                finish(i, c.parser.empty() ? "reset" : "short");
            }
            return;
        }
        if (c.phase == Conn::Phase::draining) {
            finish(i, "malformed");  // bytes after a complete response
            return;
        }
        auto state = c.parser.feed(std::string_view(buf, static_cast<std::size_t>(n)));
        if (state == ResponseParser::State::malformed) {
            finish(i, "malformed");
            return;
        }
        if (state == ResponseParser::State::complete) {
            finish(i, c.parser.status() == 200 ? nullptr : "status");
            return;
        }
    }
}

void Engine::finish(std::size_t i, const char* error) {
    Conn& c = conns_[i];
    if (error != nullptr) {
        ++result_.errors[error];
        drop(i);
        return;
    }
    auto now = Clock::now();
    ++result_.ok;
    result_.latency_us.push_back(static_cast<std::uint32_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(now - c.started).count()));
    if (config_.keep_alive && !c.parser.close() && may_issue(now)) {
        ++issued_;
        c.started = now;
        c.parser.reset();
        send_request(i);
        return;
    }
    if (c.parser.close()) {
        // Let the server close first, so the TIME_WAIT state lands on its side, not on the
        // client's ephemeral ports.
        c.phase = Conn::Phase::draining;
        c.started = now;
        return;
    }
    drop(i);
}

void Engine::drop(std::size_t i) {
    Conn& c = conns_[i];
    c.fd.reset();  // close() also removes it from the epoll set
    c.phase = Conn::Phase::idle;
}

LoadResult Engine::run() {
    begin_ = Clock::now();
    end_ = begin_ + std::chrono::milliseconds(config_.duration_ms);
    epoll_event events[256];
    for (;;) {
        auto now = Clock::now();
        bool active = false;
        for (std::size_t i = 0; i < conns_.size(); ++i) {
            Conn& c = conns_[i];
            if (c.phase == Conn::Phase::idle && may_issue(now)) {
                start(i);
            }
            if (c.phase != Conn::Phase::idle &&
                now - c.started > std::chrono::milliseconds(config_.timeout_ms)) {
                finish(i, c.phase == Conn::Phase::draining ? "short" : "timeout");
            }
            active = active || c.phase != Conn::Phase::idle;
        }
        if (!active) {
            break;
        }
        int n = ::epoll_wait(epoll_.get(), events, 256, 50);
        for (int k = 0; k < n; ++k) {
            on_event(static_cast<std::size_t>(events[k].data.u64), events[k].events);
        }
    }
    result_.elapsed_s = std::chrono::duration<double>(Clock::now() - begin_).count();
    return std::move(result_);
}

}  // namespace

long LoadResult::error_count() const {
    long n = 0;
    for (const auto& [kind, count] : errors) {
        n += count;
    }
    return n;
}

std::uint32_t LoadResult::percentile(double q) {
    if (latency_us.empty()) {
        return 0;
    }
    auto k = static_cast<std::size_t>(q * static_cast<double>(latency_us.size() - 1));
    std::nth_element(latency_us.begin(), latency_us.begin() + static_cast<long>(k),
                     latency_us.end());
    return latency_us[k];
}

LoadResult run_load(const LoadConfig& config) {
    return Engine(config).run();
}

}  // namespace forklab::load
