/// \file
/// \brief The per-connection state machine: read, parse, answer, keep alive.
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <functional>

#include "01_fork_server/signals.hpp"
#include "channel.hpp"
#include "connection.hpp"

namespace forklab::ch05 {

using std::chrono::milliseconds;

Connections::Connections(int epoll, const ConnectionLimits& limits, Ownership ownership,
                         const AppContext& app, ch03::Slot& slot, HandBack hand_back)
    : epoll_(epoll),
      limits_(limits),
      ownership_(std::move(ownership)),
      app_(app),
      slot_(slot),
      hand_back_(std::move(hand_back)),
      reading_(milliseconds(limits.read_timeout_ms)),
      idle_(milliseconds(limits.keepalive_timeout_ms)),
      writing_(milliseconds(limits.write_timeout_ms)),
      lingering_(linger_time) {}

Connections::~Connections() = default;

Connections::Conn* Connections::find(int fd) const {
    return fd >= 0 && static_cast<std::size_t>(fd) < table_.size() ? table_[fd].get() : nullptr;
}

void Connections::add(Fd fd, std::string_view first_bytes, bool routable, Clock::time_point now) {
    if (static_cast<long>(open_) >= limits_.max_connections) {
        std::string busy = serialize(error_response(503), false, false);
        [[maybe_unused]] ssize_t n =
            ::send(fd.get(), busy.data(), busy.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        slot_.open.fetch_sub(1);
        return;  // fd closes here
    }
    auto n = static_cast<std::size_t>(fd.get());
    if (table_.size() <= n) {
        table_.resize(n + 1);
    }
    std::unique_ptr<Conn> fresh;
    if (!spare_.empty()) {
        fresh = std::move(spare_.back());
        spare_.pop_back();
    } else {
        fresh = std::make_unique<Conn>();
    }
    Conn& c = *fresh;
    c.phase = Conn::Phase::reading;
    c.fd = std::move(fd);
    c.parser = http::RequestParser();
    c.carried.clear();
    c.routable =
        routable && ownership_.route.source != RouteConfig::Source::none && ownership_.workers > 1;
    c.too_much = false;
    c.served = 0;
    c.out.clear();
    c.sent = 0;
    c.keep_alive = c.linger_after = c.head_only = false;
    c.interest = EPOLLIN;
    c.registered = false;
    unsigned long serial = c.serial = ++serial_;
    c.drained = 0;
    c.index = n;
    table_[n] = std::move(fresh);
    ++open_;
    reading_.arm(c, now);
    if (!first_bytes.empty()) {
        c.parser.feed(first_bytes);  // a forwarded connection: what the first worker read
        serve(c, now);
    } else {
        read_some(c, now);  // the request is usually there already: save a turn of epoll_wait
    }
    // Only a connection that outlived its first read joins the epoll set: one that was answered
    // and closed at once (`Connection: close`) never costs an epoll_ctl.
    Conn* still = find(static_cast<int>(n));
    if (still != nullptr && still->serial == serial && !still->registered) {
        epoll_event ev{still->interest, {.fd = still->fd.get()}};
        if (::epoll_ctl(epoll_, EPOLL_CTL_ADD, still->fd.get(), &ev) == -1) {
            close(*still);  // out of memory for epoll: the client sees a close
            return;
        }
        still->registered = true;
    }
}

void Connections::on_event(int fd, std::uint32_t events, Clock::time_point now) {
    Conn* c = find(fd);
    if (c == nullptr) {
        return;
    }
    if ((events & EPOLLERR) != 0) {
        close(*c);
        return;
    }
    switch (c->phase) {
        case Conn::Phase::reading:
            read_some(*c, now);
            break;
        case Conn::Phase::writing:
            if (flush(*c, now) == Progress::done && after_response(*c, now)) {
                serve(*c, now);  // requests pipelined behind the one just answered
            }
            break;
        case Conn::Phase::lingering:
            drain(*c);
            break;
        case Conn::Phase::sleeping:
            if ((events & EPOLLHUP) != 0) {
                close(*c);  // nobody is left to answer
            }
            break;
    }
}

//! [read]
void Connections::read_some(Conn& c, Clock::time_point now) {
    char buf[16384];
    ssize_t n = ::read(c.fd.get(), buf, sizeof buf);
    if (n > 0) {
        std::string_view in(buf, static_cast<std::size_t>(n));
        if (c.routable && !c.too_much) {
            c.too_much = c.carried.size() + in.size() > max_carried;
            if (c.too_much) {
                c.carried.clear();
            } else {
                c.carried.append(in);
            }
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
        if (c.routable) {
            if (route_elsewhere(c, request)) {
                return;  // handed back: c is gone
            }
            c.routable = false;
            c.carried.clear();
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
            watch(c, 0);
            sleepers_.push_back({now + milliseconds(c.pending.delay_ms), c.fd.get(), c.serial});
            std::push_heap(sleepers_.begin(), sleepers_.end(), later<Sleeper>);
            return;
        }
        if (respond(c, response, now) != Progress::done) {
            return;
        }
    }
}

//! [route]
bool Connections::route_elsewhere(Conn& c, const http::Request& request) {
    std::optional<std::string> key = route_key(request, ownership_.route);
    if (!key || stopping_ || c.too_much) {
        return false;
    }
    std::size_t owner = owner_of(*key, ownership_.workers);
    if (owner == ownership_.index) {
        return false;
    }
    int fd = c.fd.get();
    // The connection lives on in another process: leave our epoll set before it goes (pitfall 20).
    bool was_registered = c.registered;
    if (was_registered) {
        ::epoll_ctl(epoll_, EPOLL_CTL_DEL, fd, nullptr);
        c.registered = false;
    }
    if (!hand_back_(c.fd, c.carried, owner)) {
        if (was_registered) {
            watch(c, c.interest);  // back in the set
        }
        return false;  // the master cannot take it now: serve it here after all
    }
    release(c);
    return true;
}
//! [route]

Connections::Progress Connections::respond(Conn& c, const Response& response,
                                           Clock::time_point now) {
    c.out = serialize(response, c.keep_alive, c.head_only);
    c.sent = 0;
    c.phase = Conn::Phase::writing;
    Progress p = flush(c, now);
    if (p != Progress::done) {
        return p;
    }
    return after_response(c, now) ? Progress::done : Progress::closed;
}

Connections::Progress Connections::flush(Conn& c, Clock::time_point now) {
    while (c.sent < c.out.size()) {
        ssize_t n = ::send(c.fd.get(), c.out.data() + c.sent, c.out.size() - c.sent, MSG_NOSIGNAL);
        if (n > 0) {
            c.sent += static_cast<std::size_t>(n);
        } else if (n == -1 && errno == EINTR) {
            continue;
        } else if (n == -1 && errno == EAGAIN) {
            if (c.interest != EPOLLOUT) {
                watch(c, EPOLLOUT);  // the socket is full: wait for room, read nothing meanwhile
            }
            writing_.arm(c, now);
            return Progress::pending;
        } else {
            close(c);  // EPIPE, ECONNRESET: the client went away
            return Progress::closed;
        }
    }
    return Progress::done;
}

//! [after_response]
bool Connections::after_response(Conn& c, Clock::time_point now) {
    ++requests_;
    ++c.served;
    slot_.requests.store(requests_, std::memory_order_relaxed);
    if (c.out.size() > (64u << 10)) {
        c.out = std::string();  // do not keep a /bytes/N sized buffer for an idle connection
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
    if (c.interest != EPOLLIN) {
        watch(c, EPOLLIN);
    }
    c.parser.next();  // what the client pipelined behind this request, if anything
    (c.parser.empty() ? idle_ : reading_).arm(c, now);
    return true;
}
//! [after_response]

}  // namespace forklab::ch05
