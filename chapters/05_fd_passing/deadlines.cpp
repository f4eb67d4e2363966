/// \file
/// \brief A worker's deadlines: what happens when one passes, and how long epoll_wait may sleep.
#include <algorithm>
#include <climits>

#include "connection.hpp"

namespace forklab::ch05 {

using std::chrono::milliseconds;

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

}  // namespace forklab::ch05
