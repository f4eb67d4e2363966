/// \file
/// \brief One request, one blocking connection.
#include "forklab/serve.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <optional>
#include <string_view>

namespace forklab {

namespace {

using Clock = std::chrono::steady_clock;

/// Milliseconds left until \p deadline, rounded up (so a wait never ends before it).
long ms_until(Clock::time_point deadline) {
    auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
    return left.count() < 0 ? 0 : static_cast<long>(left.count());
}

/// Waits until \p fd is ready for \p events (POLLIN, POLLOUT) or \p deadline passes. False once
/// the deadline has passed, even if the descriptor is ready: a client that keeps the socket
/// readable (or writable) every instant must not stretch a deadline.
bool wait_until(int fd, short events, Clock::time_point deadline) {
    for (;;) {
        long left = ms_until(deadline);
        if (left == 0) {
            return false;
        }
        pollfd p{fd, events, 0};
        int n = ::poll(&p, 1, static_cast<int>(left));
        if (n > 0) {
            return true;
        }
        if (n == -1 && errno != EINTR) {
            return true;  // let the read or send report the error
        }
    }
}

/// Sends all of \p bytes within \p timeout_ms of the first send that has to wait. False when the
/// client went away (EPIPE, ECONNRESET) or did not take them in time, however it paced its reads.
/// It sends before it waits: a fresh connection's send buffer takes a small answer whole, with one
/// system call, and then the clock is never read.
bool send_until(int fd, std::string_view bytes, long timeout_ms) {
    std::optional<Clock::time_point> deadline;
    while (!bytes.empty()) {
        ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            bytes.remove_prefix(static_cast<std::size_t>(n));
            continue;
        }
        if (n == -1 && errno == EINTR) {
            continue;
        }
        if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
            return false;
        }
        if (!deadline) {
            deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
        }
        if (!wait_until(fd, POLLOUT, *deadline)) {
            return false;
        }
    }
    return true;
}

/// Sleeps \p ms milliseconds, resuming after signals.
void sleep_ms(long ms) {
    timespec left{ms / 1000, (ms % 1000) * 1000000L};
    while (::nanosleep(&left, &left) == -1 && errno == EINTR) {
    }
}

/// Half-closes, then reads and drops what the client still sends for a moment, so that closing
/// with unread input does not turn into a reset that destroys the response in flight.
void linger_close(Fd conn) {
    ::shutdown(conn.get(), SHUT_WR);
    auto deadline = Clock::now() + std::chrono::seconds(1);
    char sink[4096];
    for (std::size_t total = 0; total < (256u << 10);) {
        if (!wait_until(conn.get(), POLLIN, deadline)) {
            break;
        }
        ssize_t n = ::read(conn.get(), sink, sizeof sink);
        if (n <= 0 && !(n == -1 && errno == EINTR)) {
            break;
        }
        total += n > 0 ? static_cast<std::size_t>(n) : 0;
    }
}

/// Writes \p response whole, within write_timeout_ms of the moment the client first makes us wait.
bool send_response(int fd, const Response& response, bool head_only, long write_timeout_ms) {
    std::string bytes = serialize(response, false, head_only);
    return send_until(fd, bytes, write_timeout_ms);
}

}  // namespace

//! [serve_one]
ServeEnd serve_one(Fd conn, const AppContext& context, const ServeLimits& limits) {
    http::RequestParser parser;
    // The read timeout starts when the server first has to wait: under load the request is
    // already here, and a child that never waits never reads the clock (nor pays a poll). From
    // then on it is a total: wait_until() refuses to wait past it, however the client paces its
    // bytes, and the parser's head limit bounds what arrives without a wait.
    std::optional<Clock::time_point> deadline;
    auto state = http::RequestParser::State::incomplete;
    char buf[4096];
    while (state == http::RequestParser::State::incomplete) {
        ssize_t n = ::recv(conn.get(), buf, sizeof buf, MSG_DONTWAIT);
        if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (!deadline) {
                deadline = Clock::now() + std::chrono::milliseconds(limits.read_timeout_ms);
            }
            if (!wait_until(conn.get(), POLLIN, *deadline)) {
                send_response(conn.get(), error_response(408), false, limits.write_timeout_ms);
                linger_close(std::move(conn));
                return ServeEnd::timed_out;
            }
            continue;
        }
        if (n == 0 || (n == -1 && errno != EINTR)) {
            return ServeEnd::client_closed;  // gone before asking anything complete
        }
        if (n > 0) {
            state = parser.feed(std::string_view(buf, static_cast<std::size_t>(n)));
        }
    }
    if (state == http::RequestParser::State::error) {
        send_response(conn.get(), error_response(parser.error_status()), false,
                      limits.write_timeout_ms);
        linger_close(std::move(conn));
        return ServeEnd::bad_request;
    }
    const http::Request& request = parser.request();
    Response response = handle(request, context);
    if (response.drill == Drill::crash) {
        std::abort();  // the /crash drill: die mid-request, as a buggy handler would
    }
    if (response.drill == Drill::hang) {
        for (;;) {
            ::pause();  // the /hang drill: stuck until someone kills us
        }
    }
    if (response.delay_ms > 0) {
        sleep_ms(response.delay_ms);
    }
    bool head_only = request.method == "HEAD";
    if (!send_response(conn.get(), response, head_only, limits.write_timeout_ms)) {
        return ServeEnd::write_failed;
    }
    if (request.has_body || parser.buffered().size() > 0) {
        linger_close(std::move(conn));
    }
    return ServeEnd::answered;
}
//! [serve_one]

}  // namespace forklab
