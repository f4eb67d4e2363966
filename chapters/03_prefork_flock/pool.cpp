/// \file
/// \brief The master's loop: signals and child exits in, spawns and stop requests out.
#include "pool.hpp"

#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstring>
#include <string>

#include "01_fork_server/reap.hpp"
#include "01_fork_server/signals.hpp"
#include "01_fork_server/spawn.hpp"
#include "forklab/log.hpp"
#include "rolling_restart.hpp"
#include "start_failures.hpp"
#include "worker.hpp"
#include "worker_life.hpp"
#include "worker_table.hpp"

namespace forklab::ch03 {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

class Pool {
  public:
    Pool(int listener, AcceptLock& lock, Scoreboard& board, const PoolConfig& config,
         PoolExtension* extension)
        : listener_(listener),
          lock_(lock),
          board_(board),
          config_(config),
          design_(std::string("prefork, accept lock ") + to_string(lock.kind())),
          start_failures_(config.max_start_failures),
          extension_(extension) {}
    int run(ch01::SignalEvents& signals);

  private:
    enum class Mode { running, graceful, fast };
    bool spawn_worker();
    void keep_size();
    void on_signal(int sig);
    void on_exit(const ch01::ChildExit& end);
    void after_start_failure(pid_t pid);
    void stop(Mode how);
    void give_up(const std::string& why);
    void hup();
    void replace_next();
    [[nodiscard]] SlotState state_of(const WorkerEntry& w) const {
        return static_cast<SlotState>(board_.slot(w.slot).state.load());
    }
    [[nodiscard]] bool probing() const;
    [[nodiscard]] bool started_since_failure() const;
    [[nodiscard]] Clock::time_point next_wakeup(Clock::time_point stops) const;

    int listener_;
    AcceptLock& lock_;
    Scoreboard& board_;
    const PoolConfig& config_;
    std::string design_;
    WorkerTable workers_;
    RollingRestart rolling_;
    StartFailures start_failures_;
    Mode mode_ = Mode::running;
    unsigned generation_ = 0;
    int exit_code_ = 0;
    Clock::time_point spawn_after_{};  // start-up back-off
    Clock::time_point failed_at_{};    // the last start-up failure
    PoolExtension* extension_;         // a later chapter's addition, or null
};

bool Pool::spawn_worker() {
    std::size_t slot = board_.find_free();
    if (slot == board_.size()) {
        log::line("no free scoreboard slot: spawn delayed");
        spawn_after_ = Clock::now() + milliseconds(100);
        return false;
    }
    // The master fills the slot before the fork; from then on only the worker writes to it.
    Slot& s = board_.slot(slot);
    s.state = static_cast<int>(SlotState::starting);
    s.requests = 0;
    s.started_ms = Scoreboard::now_ms();
    s.generation = generation_;
    WorkerContext context{listener_,      lock_,
                          board_,         slot,
                          ::getpid(),     config_.max_requests,
                          config_.drills, config_.crash_at_start,
                          config_.limits, design_.c_str()};
    try {
        // The worker starts with QUIT, HUP and USR1 held until its own handlers are in place (it
        // releases them); SIGINT is ignored: a Ctrl-C is the master's to handle.
        pid_t pid = [&] {
            ch01::BlockedSignals held{SIGQUIT, SIGHUP, SIGUSR1};
            return ch01::spawn([&] { return run_worker(context); }, {SIGINT});
        }();
        s.pid = pid;
        workers_.add(pid, slot, generation_);
        log::line("spawned worker ", pid, " (slot ", slot, ", generation ", generation_, ")");
        return true;
    } catch (const std::system_error& e) {
        s.state = static_cast<int>(SlotState::free);
        log::line(e.what(), ": will retry in 100 ms");
        spawn_after_ = Clock::now() + milliseconds(100);
        return false;
    }
}

/// True while a worker has not yet reached its accept loop.
bool Pool::probing() const {
    return std::any_of(workers_.all().begin(), workers_.all().end(),
                       [this](const auto& e) { return state_of(e.second) == SlotState::starting; });
}

/// True when a worker forked after the last start-up failure has reached its accept loop: the
/// crash loop is over.
bool Pool::started_since_failure() const {
    return std::any_of(workers_.all().begin(), workers_.all().end(), [this](const auto& e) {
        return e.second.spawned > failed_at_ && state_of(e.second) != SlotState::starting;
    });
}

//! [keep_size]
void Pool::keep_size() {
    if (start_failures_.count() > 0 && started_since_failure()) {
        log::line("workers start again after ", start_failures_.count(), " failures");
        start_failures_.started();
    }
    while (static_cast<long>(workers_.serving()) < config_.workers &&
           Clock::now() >= spawn_after_) {
        if (start_failures_.count() > 0 && probing()) {
            break;  // in a crash loop: one probe at a time, never a burst
        }
        if (!spawn_worker()) {
            break;
        }
    }
}
//! [keep_size]

//! [on_exit]
void Pool::on_exit(const ch01::ChildExit& end) {
    std::optional<WorkerEntry> w = workers_.remove(end.pid);
    if (!w) {
        if (extension_ != nullptr) {
            extension_->on_other_child(end);
        }
        return;
    }
    Slot& s = board_.slot(w->slot);
    bool started = state_of(*w) != SlotState::starting;
    unsigned long served = s.requests;
    s.state = static_cast<int>(SlotState::free);
    s.pid = 0;
    bool replaced = rolling_.ended(end.pid);
    bool fatal_setup = end.exited() && end.exit_code() == exit_fatal_setup;
    // Our own stop signals are no crash; anything else that kills a worker is reported as such.
    bool ended_as_asked =
        w->stopping() && (end.clean() || (end.signaled() && end.signal() == w->stop_signal));
    std::string how =
        w->killed        ? "was SIGKILLed after its stop deadline"
        : ended_as_asked ? std::string("left as asked (") + ::sigabbrev_np(w->stop_signal) + ")"
        : fatal_setup    ? "could not set up (exit code " + std::to_string(exit_fatal_setup) + ")"
        : end.clean()    ? "retired (max-requests)"
                         : end.describe() + ": died";
    log::line("worker ", end.pid, " ", how, " after ", served, " requests");
    if (mode_ != Mode::running) {
        return;
    }
    if (fatal_setup) {
        give_up("a worker could not set up, and respawning cannot fix that");
        return;
    }
    if (!started && !w->stopping()) {
        after_start_failure(end.pid);
    }
    if (replaced) {
        replace_next();
    }
}
//! [on_exit]

/// A worker died before its accept loop (pitfall 13): back off, and give up after a few.
void Pool::after_start_failure(pid_t pid) {
    failed_at_ = Clock::now();
    std::optional<long> delay = start_failures_.failed();
    if (!delay) {
        give_up("workers died " + std::to_string(start_failures_.count()) +
                " times in a row before their accept loop");
        return;
    }
    log::line("worker ", pid, " died at start (", start_failures_.count(), " of ",
              start_failures_.limit(), " in a row): next worker in ", *delay, " ms");
    spawn_after_ = Clock::now() + milliseconds(*delay);
}

void Pool::give_up(const std::string& why) {
    log::line("giving up: ", why);
    exit_code_ = 1;
    stop(Mode::fast);
}

//! [stop]
void Pool::stop(Mode how) {
    if (mode_ == how || mode_ == Mode::fast) {
        return;
    }
    mode_ = how;
    rolling_.cancel();
    log::line(how == Mode::fast ? "fast stop" : "graceful stop", ": ", workers_.size(), " workers");
    if (how == Mode::fast) {
        workers_.stop_all(SIGTERM, milliseconds(std::min(config_.graceful_timeout_ms, 2000L)));
    } else {
        workers_.stop_all(SIGQUIT, milliseconds(config_.graceful_timeout_ms));
    }
}
//! [stop]

//! [hup]
void Pool::hup() {
    ++generation_;
    std::vector<pid_t> old;
    for (const auto& [pid, w] : workers_.all()) {
        if (!w.stopping()) {
            old.push_back(pid);
        }
    }
    log::line("HUP: replacing ", old.size(), " workers one by one (generation ", generation_, ")");
    rolling_.begin(old);
    replace_next();
}

void Pool::replace_next() {
    std::optional<pid_t> old = rolling_.next([this](pid_t pid) { return workers_.serving(pid); });
    if (!old) {
        if (!rolling_.active()) {
            log::line("every worker replaced (generation ", generation_, ")");
        }
        return;
    }
    spawn_worker();  // the new one first: never fewer than N workers taking connections
    workers_.stop(*old, SIGHUP, milliseconds(config_.graceful_timeout_ms));
}
//! [hup]

void Pool::on_signal(int sig) {
    if (extension_ != nullptr) {
        extension_->on_signal(sig);
    }
    switch (sig) {
        case SIGCHLD:
            for (const ch01::ChildExit& end : ch01::reap_children()) {
                on_exit(end);
            }
            break;
        case SIGTERM:
        case SIGINT:
            stop(Mode::fast);
            break;
        case SIGQUIT:
            stop(Mode::graceful);
            break;
        case SIGHUP:
            if (mode_ == Mode::running) {
                hup();
            }
            break;
        case SIGUSR1:
            log::reopen();
            workers_.signal_all(SIGUSR1);
            break;
        default:
            break;
    }
}

Clock::time_point Pool::next_wakeup(Clock::time_point stops) const {
    auto next = stops;
    if (mode_ == Mode::running && static_cast<long>(workers_.serving()) < config_.workers) {
        // Short of workers: after the back-off, or soon if a probe is still starting.
        next = std::min(next, start_failures_.count() > 0 && probing()
                                  ? Clock::now() + milliseconds(20)
                                  : spawn_after_);
    }
    return next;
}

//! [master_loop]
int Pool::run(ch01::SignalEvents& signals) {
    for (;;) {
        if (mode_ == Mode::running) {
            keep_size();  // exactly N: a retired or dead worker's place is taken at once
        } else if (workers_.size() == 0) {
            break;
        }
        // Stop requests are repeated until each worker is gone, then SIGKILL at its deadline.
        Clock::time_point wake = next_wakeup(workers_.enforce());
        if (extension_ != nullptr) {
            wake = std::min(wake, extension_->on_turn());
        }
        int timeout = -1;
        if (wake != Clock::time_point::max()) {
            auto ms = std::chrono::duration_cast<milliseconds>(wake - Clock::now()).count();
            timeout = static_cast<int>(std::clamp<long>(ms + 1, 0, 60000));
        }
        pollfd p[2] = {{signals.fd(), POLLIN, 0},
                       {extension_ != nullptr ? extension_->fd() : -1, POLLIN, 0}};
        if (::poll(p, 2, timeout) > 0) {
            if (p[0].revents != 0) {
                for (int sig : signals.take()) {
                    on_signal(sig);
                }
            }
            if (p[1].revents != 0) {
                extension_->on_readable();
            }
        }
    }
    log::line("stopped");
    return exit_code_;
}
//! [master_loop]

}  // namespace

int run_pool(int listener, AcceptLock& lock, Scoreboard& board, ch01::SignalEvents& signals,
             const PoolConfig& config, PoolExtension* extension) {
    return Pool(listener, lock, board, config, extension).run(signals);
}

}  // namespace forklab::ch03
