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
#include "master.hpp"
#include "worker.hpp"

namespace forklab::ch05 {

//! [spawn]
bool Master::spawn_worker(std::size_t index) {
    auto retry = [&](const std::string& why) {
        log::line(why, ": will retry in 100 ms");
        respawn_at_[index] = Clock::now() + milliseconds(100);
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
    // In the epoll set before the fork, so that a failure costs no worker. The child's copy of
    // `mine` does not keep it there: the child closes it at once.
    epoll_event ev{EPOLLIN, {.u64 = tag(Source::channel, mine.get())}};
    if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, mine.get(), &ev) == -1) {
        return retry(std::string("epoll_ctl add channel: ") + std::strerror(errno));
    }
    ch03::Slot& s = board_.slot(slot);
    s.state = static_cast<int>(ch03::SlotState::starting);
    s.requests = 0;
    s.open = 0;
    s.dispatched = 0;
    s.started_ms = ch03::Scoreboard::now_ms();
    s.generation = generation_;
    WorkerContext context{ThisWorker{theirs.get(), index, current_.size()},
                          board_,
                          slot,
                          stats_,
                          ::getpid(),
                          config_.limits,
                          config_.router,
                          config_.drills};
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
                for (auto& entry : channels_) {
                    entry.second.master_end.reset();
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
    WorkerChannel& channel = channels_[pid];
    channel = WorkerChannel{std::move(mine), index, slot};
    current_[index] = CurrentWorker{pid, &channel};
    workers_.add(pid, slot, generation_);
    log::line("spawned worker ", pid, " (index ", index, ", slot ", slot, ")");
    return true;
}
//! [spawn]

/// True when \p current is a worker that takes new connections: alive and not leaving.
bool Master::taking(const CurrentWorker& current) const {
    return current.pid != 0 && workers_.serving(current.pid);
}

/// Respawns a worker for every index that has none; after start-up failures one probe at a time,
/// after the back-off.
void Master::keep_pool_full(Clock::time_point now) {
    auto starting = [&](bool since_failure) {
        return std::any_of(channels_.begin(), channels_.end(), [&](const auto& e) {
            const ch03::WorkerEntry* w = workers_.find(e.first);
            bool started = state_of(e.second) != ch03::SlotState::starting;
            return since_failure ? w != nullptr && w->spawned > failed_at_ && started : !started;
        });
    };
    if (start_failures_.count() > 0 && starting(true)) {
        log::line("workers start again after ", start_failures_.count(), " failures");
        start_failures_.started();
    }
    for (std::size_t i = 0; i < current_.size(); ++i) {
        if (current_[i].pid == 0 && now >= respawn_at_[i]) {
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
    auto it = channels_.find(end.pid);
    if (!w || it == channels_.end()) {
        return;
    }
    std::size_t index = it->second.index;
    bool current = current_[index].pid == end.pid;
    if (current) {
        current_[index] = CurrentWorker{};  // dispatch skips it until its successor has started
    }
    read_channel(it);  // what it sent before it died (a Router's messages) is still there
    ch03::Slot& s = board_.slot(it->second.slot);
    bool started = state_of(it->second) != ch03::SlotState::starting;
    unsigned long open = s.open;
    unsigned long served = s.requests;
    s.state = static_cast<int>(ch03::SlotState::free);
    s.pid = 0;
    s.open = 0;
    channels_.erase(it);  // closes our end, which also leaves the epoll set
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
        respawn_at_[index] = Clock::now() + milliseconds(*delay);
    } else if (current) {
        respawn_at_[index] = Clock::now();  // at once: its clients lost their connections already
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
    stop_accepting();
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
    for (const CurrentWorker& w : current_) {
        if (w.pid != 0) {
            old.push_back(w.pid);
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
    std::size_t index = channels_.at(*old).index;
    current_[index] = CurrentWorker{};  // new connections for its index go to its successor now
    spawn_worker(index);                // if it fails, keep_pool_full retries
    workers_.stop(*old, SIGHUP, milliseconds(config_.graceful_timeout_ms));
}
//! [hup]

}  // namespace forklab::ch05
