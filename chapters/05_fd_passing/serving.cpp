/// \file
/// \brief Serving requests on one connection: read, parse, answer (a long body made as the socket
/// drains), keep alive.
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>

#include "01_fork_server/signals.hpp"
#include "connection.hpp"

namespace forklab::ch05 {

using std::chrono::milliseconds;

//! [read]
void Connections::read_some(Conn& c, Clock::time_point now) {
    char buf[16384];
    ssize_t n = ::read(c.fd.get(), buf, sizeof buf);
    if (n > 0) {
        std::string_view in(buf, static_cast<std::size_t>(n));
        if (c.reroutable) {
            c.read.append(in);  // no longer in the socket: they travel with it if it leaves
        }
        if (c.parser.empty() && c.list == &idle_) {
            reading_.arm(c, now);  // a new request begins: its head has the read timeout from now
        }
        c.parser.feed(in);
        serve(c, now);
    } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        close(c);  // end-of-file or an error: the client is gone
    }
    // One read per wake-up: a level-triggered epoll reports the rest, and an extra read that
    // returns EAGAIN would cost a system call per request.
}
//! [read]

void Connections::serve(Conn& c, Clock::time_point now) {
    for (;;) {  // one turn per request the client pipelined
        http::RequestParser::State state = c.parser.feed({});
        if (state == http::RequestParser::State::incomplete) {
            return;
        }
        if (state == http::RequestParser::State::error) {
            c.keep_alive = false;
            c.linger_after = true;
            respond(c, error_response(c.parser.error_status()), now);
            return;
        }
        const http::Request& request = c.parser.request();
        if (c.reroutable) {
            c.reroutable = false;
            if (!stopping_ && leaves(c, request)) {
                return;  // c is gone
            }
            c.read = std::string();
        }
        Response response = handle(request, app_);
        if (response.drill == Drill::crash) {
            std::abort();  // every connection of this worker closes with it
        }
        if (response.drill == Drill::hang) {
            ch01::BlockedSignals blocked;  // stuck for good: only SIGKILL ends this
            for (;;) {
                ::pause();
            }
        }
        c.head_only = request.method == "HEAD";
        c.keep_alive = !response.close && !stopping_;
        c.linger_after = request.has_body;
        if (response.delay_ms > 0) {
            c.phase = Conn::Phase::sleeping;  // a deadline, not a blocked worker
            c.pending = std::move(response);
            disarm(c);
            if (!watch(c, 0)) {
                close(c);
                return;
            }
            sleepers_.push_back({now + milliseconds(c.pending.delay_ms), c.fd.get(), c.serial});
            std::push_heap(sleepers_.begin(), sleepers_.end(), later<Sleeper>);
            return;
        }
        if (respond(c, response, now) != Progress::done) {
            return;
        }
    }
}

Connections::Progress Connections::respond(Conn& c, const Response& response,
                                           Clock::time_point now) {
    c.out.clear();
    append_head(c.out, response, c.keep_alive);  // into the buffer the connection kept
    c.generated = 0;
    if (!c.head_only) {
        c.out += response.body;
        c.generated = response.generated;  // made as the socket takes it, never held whole
    }
    c.sent = 0;
    c.phase = Conn::Phase::writing;
    Progress p = flush(c, now);
    if (p != Progress::done) {
        return p;
    }
    return after_response(c, now) ? Progress::done : Progress::closed;
}

//! [flush]
Connections::Progress Connections::flush(Conn& c, Clock::time_point now) {
    while (c.sent < c.out.size() || c.generated > 0) {
        // What is left of `out`, then the next piece of a generated body, in one system call.
        std::string_view left = std::string_view(c.out).substr(c.sent);
        ssize_t n = send_some(c.fd.get(), left, c.generated, MSG_NOSIGNAL);
        if (n > 0) {
            c.sent = c.out.size() - left.size();
        } else if (n == -1 && errno == EINTR) {
            continue;
        } else if (n == -1 && errno == EAGAIN) {
            if (c.interest != EPOLLOUT && !watch(c, EPOLLOUT)) {
                close(c);  // the socket is full and epoll cannot tell us when it has room
                return Progress::closed;
            }
            // Wait for room, read nothing meanwhile. Armed once per response, when it first
            // blocks: a client that reads a little at a time must not push the deadline back.
            if (c.list != &writing_) {
                writing_.arm(c, now);
            }
            return Progress::pending;
        } else {
            close(c);  // EPIPE, ECONNRESET: the client went away
            return Progress::closed;
        }
    }
    return Progress::done;
}
//! [flush]

//! [after_response]
bool Connections::after_response(Conn& c, Clock::time_point now) {
    ++requests_;
    ++c.served;
    slot_.requests.store(requests_, std::memory_order_relaxed);
    if (c.out.size() > (64u << 10)) {
        c.out = std::string();  // do not keep a large buffer (a /status page) for an idle one
    } else {
        c.out.clear();
    }
    if (!c.keep_alive || stopping_) {
        bool unread = c.linger_after || c.parser.next() != http::RequestParser::State::incomplete ||
                      !c.parser.empty();
        unread ? linger(c, now) : close(c);  // a plain close is the client's end-of-file
        return false;
    }
    c.phase = Conn::Phase::reading;
    if (c.interest != EPOLLIN && !watch(c, EPOLLIN)) {
        close(c);
        return false;
    }
    c.parser.next();  // what the client pipelined behind this request, if anything
    (c.parser.empty() ? idle_ : reading_).arm(c, now);
    return true;
}
//! [after_response]

}  // namespace forklab::ch05
