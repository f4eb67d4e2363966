/// \file
/// \brief The master's pool: forking workers, reaping them, replacing them, stopping them.
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstring>
#include <string>

#include "01_fork_server/signals.hpp"
#include "forklab/log.hpp"
#include "master_state.hpp"
#include "worker.hpp"

namespace forklab::ch05 {

//! [spawn]
bool Master::spawn_worker(std::size_t place) {
    auto retry = [&](const std::string& why) {
        log::line(why, ": will retry in 100 ms");
        respawn_at_[place] = Clock::now() + milliseconds(100);
        return false;
    };
    std::size_t slot = board_.find_free();
    if (slot == board_.size()) {
        return retry("no free scoreboard slot");
    }
    int pair[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, pair) == -1) {
        return retry(std::string("socketpair: ") + std::strerror(errno));
    }
    Fd mine(pair[0]);
    Fd theirs(pair[1]);
    ch03::Slot& s = board_.slot(slot);
    s.state = static_cast<int>(ch03::SlotState::starting);
    s.requests = 0;
    s.open = 0;
    s.dispatched = 0;
    s.started_ms = ch03::Scoreboard::now_ms();
    s.generation = generation_;
    WorkerContext context{theirs.get(),   board_,
                          slot,           stats_,
                          ::getpid(),     Ownership{config_.route, place, places_.size()},
                          config_.limits, config_.drills};
    pid_t pid = 0;
    try {
        // The worker starts with QUIT, HUP, USR1 and TERM held until its own handlers are in place
        // (it releases them); SIGINT is ignored: a Ctrl-C is the master's to handle.
        ch01::BlockedSignals held{SIGQUIT, SIGHUP, SIGUSR1, SIGTERM};
        pid = ch01::spawn(
            [&] {
                // The child starts with copies of the master's descriptors. A master end of any
                // channel left open here would keep that channel alive after the master dies, and
                // its worker would never see end-of-file: close them all, ours included.
                for (auto& entry : links_) {
                    entry.second.channel.reset();
                }
                mine.reset();
                listener_.reset();
                acceptor_.drop_spare();
                epoll_.reset();  // the master's epoll set is not ours (pitfall 20)
                return run_worker(context);
            },
            {SIGINT});
    } catch (const std::system_error& e) {
        s.state = static_cast<int>(ch03::SlotState::free);
        return retry(e.what());
    }
    theirs.reset();  // the worker's end lives in the worker alone
    s.pid = pid;
    Link& link = links_[pid];
    link = Link{std::move(mine), place, slot};
    epoll_event ev{EPOLLIN, {.u64 = tag(Source::channel, pid)}};
    ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, link.channel.get(), &ev);
    places_[place] = Place{pid, &link};
    workers_.add(pid, slot, generation_);
    log::line("spawned worker ", pid, " (place ", place, ", slot ", slot, ")");
    return true;
}
//! [spawn]

/// True when \p place has a worker that takes new connections: alive and not leaving.
bool Master::taking(const Place& place) const {
    return place.pid != 0 && workers_.serving(place.pid);
}

/// Respawns dead places; after start-up failures one probe at a time, after the back-off.
void Master::keep_places(Clock::time_point now) {
    auto starting = [&](bool since_failure) {
        return std::any_of(links_.begin(), links_.end(), [&](const auto& e) {
            const ch03::WorkerEntry* w = workers_.find(e.first);
            bool started = state_of(e.second) != ch03::SlotState::starting;
            return since_failure ? w != nullptr && w->spawned > failed_at_ && started : !started;
        });
    };
    if (start_failures_.count() > 0 && starting(true)) {
        log::line("workers start again after ", start_failures_.count(), " failures");
        start_failures_.started();
    }
    for (std::size_t i = 0; i < places_.size(); ++i) {
        if (places_[i].pid == 0 && now >= respawn_at_[i]) {
            if (start_failures_.count() > 0 && starting(false)) {
                break;  // in a crash loop: never a burst of forks
            }
            spawn_worker(i);
        }
    }
}

//! [on_exit]
void Master::on_exit(const ch01::ChildExit& end) {
    std::optional<ch03::WorkerEntry> w = workers_.remove(end.pid);
    auto it = links_.find(end.pid);
    if (!w || it == links_.end()) {
        return;
    }
    std::size_t place = it->second.place;
    bool current = places_[place].pid == end.pid;
    if (current) {
        places_[place] = Place{};  // dispatch skips the place until its new worker has started
    }
    read_channel(end.pid);  // connections it handed back before it died are still in the channel
    ch03::Slot& s = board_.slot(it->second.slot);
    bool started = state_of(it->second) != ch03::SlotState::starting;
    unsigned long open = s.open;
    unsigned long served = s.requests;
    s.state = static_cast<int>(ch03::SlotState::free);
    s.pid = 0;
    s.open = 0;
    links_.erase(it);  // closes our end, which also leaves the epoll set
    bool replaced = rolling_.ended(end.pid);
    bool as_asked =
        w->stopping() && (end.clean() || (end.signaled() && end.signal() == w->stop_signal));
    std::string how =
        w->killed ? "was SIGKILLed after its stop deadline"
        : as_asked
            ? std::string("left as asked (") + ::sigabbrev_np(w->stop_signal) + ")"
            : end.describe() + "; its " + std::to_string(open) + " connections closed with it";
    log::line("worker ", end.pid, " ", how, " after ", served, " requests");
    if (mode_ != Mode::running) {
        return;
    }
    if (current && !started && !w->stopping()) {
        failed_at_ = Clock::now();
        std::optional<long> delay = start_failures_.failed();
        if (!delay) {
            log::line("giving up: workers died ", start_failures_.count(),
                      " times in a row before they started");
            exit_code_ = 1;
            stop(Mode::fast);
            return;
        }
        respawn_at_[place] = Clock::now() + milliseconds(*delay);
    } else if (current) {
        respawn_at_[place] = Clock::now();  // at once: its clients lost their connections already
    }
    if (replaced) {
        replace_next();
    }
}
//! [on_exit]

//! [stop]
void Master::stop(Mode how) {
    if (mode_ == how || mode_ == Mode::fast) {
        return;
    }
    if (how == Mode::graceful && mode_ == Mode::running && accepting_) {
        accept_some(1 << 20);  // what waits in the backlog is served, not reset (pitfall 16)
    }
    mode_ = how;
    if (accepting_) {
        ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, listener_.get(), nullptr);
        accepting_ = false;
    }
    listener_.reset();  // new connections are refused from now on
    rolling_.cancel();
    log::line(how == Mode::fast ? "fast stop" : "graceful stop", ": ", workers_.size(),
              " workers; accepted ", stats_.accepted, ", refused ", stats_.refused);
    if (how == Mode::fast) {
        workers_.stop_all(SIGTERM, milliseconds(std::min(config_.graceful_timeout_ms, 2000L)));
    } else {
        workers_.stop_all(SIGQUIT, milliseconds(config_.graceful_timeout_ms));
    }
}
//! [stop]

//! [hup]
void Master::hup() {
    ++generation_;
    std::vector<pid_t> old;
    for (const Place& p : places_) {
        if (p.pid != 0) {
            old.push_back(p.pid);
        }
    }
    log::line("HUP: replacing ", old.size(), " workers one by one (generation ", generation_, ")");
    rolling_.begin(old);
    replace_next();
}

void Master::replace_next() {
    std::optional<pid_t> old = rolling_.next([this](pid_t pid) { return workers_.serving(pid); });
    if (!old) {
        if (!rolling_.active()) {
            log::line("every worker replaced (generation ", generation_, ")");
        }
        return;
    }
    std::size_t place = links_.at(*old).place;
    places_[place] = Place{};  // new connections and its keys go to its successor from now on
    spawn_worker(place);       // if it fails, keep_places retries
    workers_.stop(*old, SIGHUP, milliseconds(config_.graceful_timeout_ms));
}
//! [hup]

}  // namespace forklab::ch05
