/// \file
/// \brief The master's loop: signals in; spawns, exits, stops and the rolling restart out.
#include "pool.hpp"

#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstring>
#include <string>

#include "01_fork_server/spawn.hpp"
#include "03_prefork_flock/worker.hpp"
#include "03_prefork_flock/worker_life.hpp"
#include "forklab/log.hpp"
#include "master.hpp"
#include "reporter.hpp"

namespace forklab::ch04 {

//! [spawn]
bool Pool::spawn_worker() {
    const std::size_t slot = board_.find_free();
    if (slot >= board_.size()) {
        log::line("every scoreboard slot is taken: no spawn this period");
        return false;
    }
    board_.slot(slot).generation = generation_;
    board_.slot(slot).started_ms = ch03::Scoreboard::now_ms();
    board_.slot(slot).requests = 0;
    board_.slot(slot).state = static_cast<int>(ch03::SlotState::starting);
    Reporter reporter(pipe_.write_end.get());
    ch03::WorkerContext context{listener_,      lock_,
                                board_,         slot,
                                ::getpid(),     config_.max_requests,
                                config_.drills, config_.crash_at_start,
                                config_.limits, design_.c_str()};
    if (config_.report == Report::pipe) {
        context.on_change = [&reporter](const ch03::Slot& s) { reporter.changed(s); };
    }
    pid_t pid = 0;
    try {
        // Chapter 03's worker, with QUIT, HUP and USR1 held until its handlers are in place.
        ch01::BlockedSignals held{SIGQUIT, SIGHUP, SIGUSR1};
        pid = ch01::spawn(
            [&] {
                pipe_.read_end.reset();  // the worker only writes
                return ch03::run_worker(context);
            },
            {SIGINT});
    } catch (const std::system_error& e) {
        board_.slot(slot).state = static_cast<int>(ch03::SlotState::free);
        log::line(e.what(), ": next try in 100 ms");
        spawn_after_ = Clock::now() + milliseconds(100);
        return false;
    }
    board_.slot(slot).pid = pid;
    workers_.add(pid, slot, generation_);
    reports_.expect(pid);
    log::line("spawned worker ", pid, " (slot ", slot, ", generation ", generation_, ")");
    return true;
}
//! [spawn]

//! [on_exit]
void Pool::on_exit(const ch01::ChildExit& end) {
    if (config_.report == Report::scoreboard) {
        read_board(end.pid);  // its slot's last state: did it get as far as its accept loop?
    }
    std::optional<ch03::WorkerEntry> w = workers_.remove(end.pid);
    if (!w) {
        return;
    }
    std::optional<Heard> heard = reports_.forget(end.pid);
    bool spoke = heard && heard->spoke;
    auto served = heard ? heard->requests : 0;
    board_.slot(w->slot).pid = 0;
    board_.slot(w->slot).state = static_cast<int>(ch03::SlotState::free);
    std::string why = why_leaving_.count(end.pid) != 0 ? why_leaving_[end.pid] : "";
    why_leaving_.erase(end.pid);
    bool replaced = rolling_.ended(end.pid);
    bool fatal_setup = end.exited() && end.exit_code() == ch03::exit_fatal_setup;
    bool as_asked =
        w->stopping() && (end.clean() || (end.signaled() && end.signal() == w->stop_signal));
    if (w->killed) {
        log::line("worker ", end.pid, " (", why, ") was SIGKILLed after its deadline");
    } else if (as_asked) {
        log::line("worker ", end.pid, " ", why, ": left after ", served, " requests");
    } else if (end.clean()) {
        log::line("worker ", end.pid, " retired after ", served, " requests (max-requests)");
    } else {
        log::line("worker ", end.pid, " ", end.describe(), " after ", served, " requests: died");
    }
    if (mode_ != Mode::running) {
        return;
    }
    std::string hopeless = fatal_setup ? "a worker could not set up, and respawning cannot fix that"
                           : !spoke && !w->stopping() && !backed_off(end.pid)
                               ? "workers died " + std::to_string(start_failures_.count()) +
                                     " times in a row before serving"
                               : "";
    if (!hopeless.empty()) {
        exit_code_ = 1;
        log::line("giving up: ", hopeless);
        stop(Mode::fast);
        return;
    }
    if (replaced) {
        replace_next();
    }
}
//! [on_exit]

/// A worker died before it said anything (pitfall 13): delays the next spawn, doubling, and returns
/// false once the streak is long enough to give up.
bool Pool::backed_off(pid_t pid) {
    std::optional<long> delay = start_failures_.failed();
    if (delay) {
        spawn_after_ = Clock::now() + milliseconds(*delay);
        log::line("crash loop: worker ", pid, " died at start (", start_failures_.count(), " of ",
                  start_failures_.limit(), " in a row), next spawn in ", *delay, " ms");
    }
    return delay.has_value();
}

void Pool::stop(Mode how) {
    if (mode_ == Mode::fast || mode_ == how) {
        return;
    }
    mode_ = how;
    rolling_.cancel();
    bool fast = how == Mode::fast;
    log::line(fast ? "fast stop: " : "graceful stop: ", workers_.size(), " workers");
    // QUIT: chapter 03's workers finish the connection in hand, then serve what is queued.
    milliseconds grace(fast ? std::min(config_.graceful_timeout_ms, 2000L)
                            : config_.graceful_timeout_ms);
    for (const auto& entry : workers_.all()) {
        ask_to_leave(entry.first, fast ? SIGTERM : SIGQUIT, grace,
                     fast ? "stopped (fast stop)" : "stopped (graceful stop)");
    }
}

//! [hup]
void Pool::hup() {
    ++generation_;
    log::line("HUP: replacing ", workers_.serving(), " workers, one at a time (generation ",
              generation_, ")");
    std::vector<pid_t> pids;
    for (const auto& entry : workers_.all()) {
        pids.push_back(entry.first);  // next() skips those already leaving
    }
    rolling_.begin(pids);
    replace_next();
}

void Pool::replace_next() {
    std::optional<pid_t> old = rolling_.next([this](pid_t pid) { return workers_.serving(pid); });
    if (old) {
        spawn_worker();  // the new one first: the pool never has one worker fewer
        ask_to_leave(*old, SIGHUP, milliseconds(config_.graceful_timeout_ms), "replaced (HUP)");
    } else if (!rolling_.active()) {
        log::line("HUP done: every worker replaced (generation ", generation_, ")");
    }
}
//! [hup]

void Pool::on_signal(int sig) {
    if (sig == SIGCHLD) {
        for (const ch01::ChildExit& end : ch01::reap_children()) {
            on_exit(end);
        }
    } else if (sig == SIGTERM || sig == SIGINT) {
        stop(Mode::fast);
    } else if (sig == SIGQUIT) {
        stop(Mode::graceful);
    } else if (sig == SIGHUP && mode_ == Mode::running) {
        hup();
    } else if ((sig == SIGTTIN || sig == SIGTTOU) && mode_ == Mode::running) {
        move_marks(sig);
    } else if (sig == SIGUSR1) {
        log::reopen();
        workers_.signal_all(SIGUSR1);
    }
}

Clock::time_point Pool::next_wakeup(Clock::time_point stops) const {
    if (mode_ != Mode::running) {
        return stops;
    }
    auto now = Clock::now();
    // Once the pipe is left out of the poll set, come back to put it in again at next_read_.
    bool later = config_.report == Report::pipe && next_read_ > now;
    return std::min({stops, next_maintenance_, later ? next_read_ : stops});
}

//! [master_loop]
int Pool::run(ch01::SignalEvents& signals) {
    for (long i = 0; i < config_.start_workers; ++i) {
        spawn_worker();
    }
    for (;;) {
        auto now = Clock::now();
        if (mode_ == Mode::running && now >= next_maintenance_) {
            listen_to_workers();
            maintain();
            stop_hung();
            next_maintenance_ = now + milliseconds(config_.maintenance_ms);
        } else if (mode_ != Mode::running && workers_.size() == 0) {
            break;
        }
        // Stop requests are repeated until each worker is gone, then SIGKILL at its deadline.
        auto wake = next_wakeup(workers_.enforce());
        int timeout = -1;
        if (wake != Clock::time_point::max()) {
            auto ms = std::chrono::duration_cast<milliseconds>(wake - Clock::now()).count();
            timeout = static_cast<int>(std::clamp<long>(ms + 1, 0, 60000));
        }
        // The pipe is watched only once read_every has passed since the last read: between two
        // reads, records pile up in it and cost the master nothing.
        bool watch_pipe = config_.report == Report::pipe && Clock::now() >= next_read_;
        pollfd fds[2] = {{signals.fd(), POLLIN, 0}, {pipe_.read_end.get(), POLLIN, 0}};
        if (::poll(fds, watch_pipe ? 2 : 1, timeout) <= 0) {
            continue;
        }
        if (watch_pipe && (fds[1].revents & POLLIN) != 0) {
            read_records();
            next_read_ = Clock::now() + read_every;
        }
        if ((fds[0].revents & POLLIN) != 0) {
            listen_to_workers();  // before reaping: a worker's last words come first
            for (int sig : signals.take()) {
                on_signal(sig);
            }
        }
    }
    log::line("stopped");
    return exit_code_;
}
//! [master_loop]

int run_pool(int listener, ch03::AcceptLock& lock, ch03::Scoreboard& board,
             ch01::SignalEvents& signals, const PoolConfig& config) {
    return Pool(listener, lock, board, config).run(signals);
}

}  // namespace forklab::ch04
