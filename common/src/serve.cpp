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

namespace forklab {

namespace {

using Clock = std::chrono::steady_clock;

long ms_until(Clock::time_point deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    return left.count() < 0 ? 0 : static_cast<long>(left.count());
}

/// Waits until \p fd is readable or \p deadline passes. False on timeout.
bool wait_readable(int fd, Clock::time_point deadline) {
    for (;;) {
        pollfd p{fd, POLLIN, 0};
        int n = ::poll(&p, 1, static_cast<int>(ms_until(deadline)));
        if (n > 0) {
            return true;
        }
        if (n == 0) {
            return false;
        }
        if (errno != EINTR) {
            return true;  // let the read report the error
        }
    }
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
        if (!wait_readable(conn.get(), deadline)) {
            break;
        }
        ssize_t n = ::read(conn.get(), sink, sizeof sink);
        if (n <= 0 && !(n == -1 && errno == EINTR)) {
            break;
        }
        total += n > 0 ? static_cast<std::size_t>(n) : 0;
    }
}

bool send_response(int fd, const Response& response, bool head_only, long write_timeout_ms) {
    std::string bytes = serialize(response, false, head_only);
    // A fresh connection's send buffer takes a small answer whole, at once: only what a full
    // buffer leaves over is written under the write timeout (one setsockopt less per request).
    ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    std::size_t sent = n > 0 ? static_cast<std::size_t>(n) : 0;
    if (sent == bytes.size()) {
        return true;
    }
    if (n == -1 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ENOTSOCK) {
        return false;  // EPIPE, ECONNRESET: the client is gone
    }
    timeval tv{write_timeout_ms / 1000, (write_timeout_ms % 1000) * 1000};
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    return write_all(fd, bytes.data() + sent, bytes.size() - sent);
}

}  // namespace

//! [serve_one]
ServeEnd serve_one(Fd conn, const AppContext& context, const ServeLimits& limits) {
    http::RequestParser parser;
    // The read timeout starts when the server first has to wait: under load the request is
    // already here, and a child that never waits never reads the clock (nor pays a poll).
    std::optional<Clock::time_point> deadline;
    auto state = http::RequestParser::State::incomplete;
    char buf[4096];
    while (state == http::RequestParser::State::incomplete) {
        ssize_t n = ::recv(conn.get(), buf, sizeof buf, MSG_DONTWAIT);
        if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (!deadline) {
                deadline = Clock::now() + std::chrono::milliseconds(limits.read_timeout_ms);
            }
            if (!wait_readable(conn.get(), *deadline)) {
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
