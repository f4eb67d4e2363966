/// \file
/// \brief How a worker's connections end: lingering, closing, deadlines, a graceful stop.
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>

#include "connection.hpp"

namespace forklab::ch05 {

using std::chrono::milliseconds;

void Connections::linger(Conn& c, Clock::time_point now) {
    ::shutdown(c.fd.get(), SHUT_WR);  // the response is complete: the client sees end-of-file
    c.phase = Conn::Phase::lingering;
    c.drained = 0;
    if (c.interest != EPOLLIN) {
        watch(c, EPOLLIN);
    }
    lingering_.arm(c, now);
}

void Connections::drain(Conn& c) {
    char sink[16384];
    ssize_t n = ::read(c.fd.get(), sink, sizeof sink);
    if (n > 0) {
        c.drained += static_cast<std::size_t>(n);
    }
    if (n == 0 || (n == -1 && errno != EAGAIN && errno != EINTR) || c.drained > linger_bytes) {
        close(c);
    }
}

void Connections::watch(Conn& c, std::uint32_t events) {
    epoll_event ev{events, {.fd = c.fd.get()}};
    if (c.registered) {
        ::epoll_ctl(epoll_, EPOLL_CTL_MOD, c.fd.get(), &ev);
    } else if (c.fd && ::epoll_ctl(epoll_, EPOLL_CTL_ADD, c.fd.get(), &ev) == 0) {
        c.registered = true;
    }
    c.interest = events;
}

void Connections::close(Conn& c) {
    // Closing the descriptor takes it out of the epoll set, because the master closed its copy
    // right after passing it: this process holds the only reference to the connection.
    c.fd.reset();
    release(c);
}

void Connections::release(Conn& c) {
    disarm(c);
    c.fd.reset();
    c.pending = Response();
    std::unique_ptr<Conn> gone = std::move(table_[c.index]);
    if (spare_.size() < 256) {
        spare_.push_back(std::move(gone));
    }
    --open_;
    slot_.open.fetch_sub(1);  // the master raised it when it passed this connection
}

void Connections::expire(Clock::time_point now) {
    auto due = [now](const TimerList& list) -> Conn* {
        TimerHook* h = list.front();
        return h != nullptr && h->deadline <= now ? static_cast<Conn*>(h) : nullptr;
    };
    while (Conn* c = due(reading_)) {
        c->keep_alive = false;  // a head that did not arrive in time (or never began)
        c->linger_after = true;
        respond(*c, error_response(408), now);
    }
    while (Conn* c = due(idle_)) {
        close(*c);  // idle keep-alive connection: the timeout is the only news it gets
    }
    while (Conn* c = due(writing_)) {
        close(*c);  // a client that stopped reading
    }
    while (Conn* c = due(lingering_)) {
        close(*c);
    }
    while (!sleepers_.empty() && sleepers_.front().deadline <= now) {
        std::pop_heap(sleepers_.begin(), sleepers_.end(), later<Sleeper>);
        Sleeper s = sleepers_.back();
        sleepers_.pop_back();
        Conn* c = find(s.fd);
        if (c == nullptr || c->serial != s.serial || c->phase != Conn::Phase::sleeping) {
            continue;  // closed meanwhile
        }
        Response r = std::move(c->pending);
        c->keep_alive = c->keep_alive && !stopping_;
        if (respond(*c, r, now) == Progress::done) {
            serve(*c, now);
        }
    }
}

int Connections::timeout_ms(Clock::time_point now) const {
    auto next = Clock::time_point::max();
    for (const TimerList* list : {&reading_, &idle_, &writing_, &lingering_}) {
        if (const TimerHook* h = list->front()) {
            next = std::min(next, h->deadline);
        }
    }
    if (!sleepers_.empty()) {
        next = std::min(next, sleepers_.front().deadline);
    }
    if (next == Clock::time_point::max()) {
        return -1;
    }
    // Rounded up: waking a little early would find nothing due and spin until the deadline.
    auto ms = std::chrono::ceil<milliseconds>(next - now).count();
    return static_cast<int>(std::clamp<long>(ms, 0, INT_MAX));
}

//! [stop]
void Connections::stop_gracefully() {
    stopping_ = true;
    for (TimerHook* h = idle_.front(); h != nullptr;) {
        auto& c = *static_cast<Conn*>(h);
        h = h->next;
        char byte = 0;
        if (::recv(c.fd.get(), &byte, 1, MSG_PEEK | MSG_DONTWAIT) != 1) {
            close(c);  // nothing in flight on it
        }  // else a request arrived just now: it is read next and answered with Connection: close
    }
}
//! [stop]

}  // namespace forklab::ch05
