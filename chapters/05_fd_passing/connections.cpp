/// \file
/// \brief A worker's table of connections: adding one, acting on its epoll events, watching it,
/// letting it go to another process, closing it, and the graceful stop.
#include "connections.hpp"

#include <sys/epoll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "connection.hpp"
#include "forklab/log.hpp"

namespace forklab::ch05 {

using std::chrono::milliseconds;

Connections::Connections(int epoll, const ConnectionLimits& limits, const AppContext& app,
                         ch03::Slot& slot, Router* router, ThisWorker me)
    : epoll_(epoll),
      limits_(limits),
      app_(app),
      slot_(slot),
      router_(router),
      me_(me),
      reading_(milliseconds(limits.read_timeout_ms)),
      idle_(milliseconds(limits.keepalive_timeout_ms)),
      writing_(milliseconds(limits.write_timeout_ms)),
      lingering_(linger_time) {}

Connections::~Connections() = default;

Connections::Conn* Connections::find(int fd) const {
    return fd >= 0 && static_cast<std::size_t>(fd) < table_.size() ? table_[fd].get() : nullptr;
}

void Connections::add(Fd fd, std::string_view first_bytes, bool reroutable, Clock::time_point now) {
    if (static_cast<long>(open_) >= limits_.max_connections) {
        static const std::string busy = serialize(error_response(503), false, false);
        // Best effort, never blocking: a client whose socket cannot take it gets a close.
        if (::send(fd.get(), busy.data(), busy.size(), MSG_NOSIGNAL | MSG_DONTWAIT) == -1) {
            log::line("503 not sent: ", std::strerror(errno));
        }
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
    c.reroutable = reroutable && router_ != nullptr;
    c.read.clear();
    c.served = 0;
    c.out.clear();
    c.sent = 0;
    c.generated = 0;
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
        c.parser.feed(first_bytes);  // what another worker read from it
        serve(c, now);
    } else {
        read_some(c, now);  // the request is usually there already: save a turn of epoll_wait
    }
    // Only a connection that outlived its first read joins the epoll set: one that was answered
    // and closed at once (`Connection: close`) never costs an epoll_ctl.
    Conn* still = find(static_cast<int>(n));
    if (still != nullptr && still->serial == serial && !still->registered &&
        !watch(*still, still->interest)) {
        close(*still);  // out of memory for epoll: the client sees a close
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

/// Makes epoll report \p events for \p c (adding it to the set the first time). False when epoll
/// cannot (ENOMEM, ENOSPC for an add): the caller closes the connection.
bool Connections::watch(Conn& c, std::uint32_t events) {
    epoll_event ev{events, {.fd = c.fd.get()}};
    if (::epoll_ctl(epoll_, c.registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, c.fd.get(), &ev) == -1) {
        return false;
    }
    c.registered = true;
    c.interest = events;
    return true;
}

//! [leaves]
/// Shows the first request of \p c to the Router. True when the connection has gone to another
/// worker (then \p c is released); false: it is served here.
bool Connections::leaves(Conn& c, const http::Request& request) {
    std::optional<std::size_t> owner = router_->owner(me_, request);
    if (!owner) {
        return false;
    }
    // The connection lives on in another process: it leaves our epoll set before it goes, as a
    // registration outlives our descriptor while another process holds the socket (pitfall 20).
    if (c.registered) {
        if (::epoll_ctl(epoll_, EPOLL_CTL_DEL, c.fd.get(), nullptr) == -1) {
            return false;  // cannot happen for a registered descriptor; if it does, it stays
        }
        c.registered = false;
    }
    if (router_->hand_back(me_, *owner, c.read, c.fd)) {
        release(c);
        return true;
    }
    if (!watch(c, c.interest)) {  // the master cannot take it now: it is served here after all
        close(c);
        return true;
    }
    return false;
}
//! [leaves]

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
    c.read = std::string();
    std::unique_ptr<Conn> gone = std::move(table_[c.index]);
    if (spare_.size() < 256) {
        spare_.push_back(std::move(gone));
    }
    --open_;
    slot_.open.fetch_sub(1);  // the master raised it when it passed this connection
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
