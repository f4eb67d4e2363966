/// \file
/// \brief The master's loop: records and signals in; the policy, hung workers and stops out.
#include "pool.hpp"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstring>
#include <map>
#include <string>

#include "01_fork_server/reap.hpp"
#include "01_fork_server/spawn.hpp"
#include "03_prefork_flock/rolling_restart.hpp"
#include "03_prefork_flock/start_failures.hpp"
#include "03_prefork_flock/worker.hpp"
#include "03_prefork_flock/worker_life.hpp"
#include "03_prefork_flock/worker_table.hpp"
#include "forklab/fd.hpp"
#include "forklab/log.hpp"
#include "reporter.hpp"
#include "reports.hpp"

namespace forklab::ch04 {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

/// The master reads the pipe at most this often. Records wait there meanwhile (the pipe holds
/// 4,096), so a busy pool wakes its master about 100 times a second, not once per record.
constexpr milliseconds read_every{10};
/// A hung worker gets SIGTERM, then SIGKILL this much later.
constexpr milliseconds hung_grace{1000};

class Pool {
  public:
    Pool(int listener, ch03::AcceptLock& lock, ch03::Scoreboard& board, const PoolConfig& config)
        : listener_(listener),
          lock_(lock),
          board_(board),
          config_(config),
          design_(std::string("adaptive pool, accept lock ") + to_string(lock.kind())),
          pipe_(make_pipe(O_NONBLOCK)),
          start_failures_(config.max_start_failures) {
        // Only the master's end is non-blocking: a worker that finds the pipe full waits for the
        // master's next read rather than drop a record.
        set_nonblocking(pipe_.write_end.get(), false);
    }
    int run(ch01::SignalEvents& signals);

  private:
    enum class Mode { running, graceful, fast };
    bool spawn_worker();
    void read_records();
    void read_board(pid_t only);
    void hear(const Record& record, Clock::time_point now);
    void listen_to_workers();
    void maintain();
    void stop_hung();
    void ask_to_leave(pid_t pid, int sig, milliseconds grace, const std::string& why);
    void on_signal(int sig);
    void on_exit(const ch01::ChildExit& end);
    bool backed_off(pid_t pid);
    void stop(Mode how);
    void hup();
    void replace_next();
    void move_marks(int sig);
    [[nodiscard]] bool probing() const;
    [[nodiscard]] Clock::time_point next_wakeup(Clock::time_point stops) const;

    int listener_;
    ch03::AcceptLock& lock_;
    ch03::Scoreboard& board_;
    PoolConfig config_;  // a copy: TTIN and TTOU move its water marks
    std::string design_;
    Pipe pipe_;
    RecordReader reader_;
    Reports reports_;
    ch03::WorkerTable workers_;
    ch03::RollingRestart rolling_;
    ch03::StartFailures start_failures_;
    std::map<pid_t, std::string> why_leaving_;  // what the master asked each leaving worker for
    PolicyState policy_state_;
    Mode mode_ = Mode::running;
    unsigned generation_ = 0;
    int exit_code_ = 0;
    Clock::time_point next_maintenance_ = Clock::now();
    Clock::time_point next_read_ = Clock::now();
    Clock::time_point spawn_after_{};  // start-up back-off
};

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

//! [read_records]
void Pool::read_records() {
    char buf[4096];
    for (;;) {
        ssize_t n = ::read(pipe_.read_end.get(), buf, sizeof buf);
        if (n <= 0) {
            return;  // EAGAIN: drained (EINTR: the loop comes back)
        }
        auto now = Clock::now();
        for (const Record& r : reader_.feed(buf, static_cast<std::size_t>(n))) {
            hear(r, now);
        }
    }
}
//! [read_records]

void Pool::hear(const Record& r, Clock::time_point now) {
    if (!reports_.take(r, now)) {
        log::line("bad record: pid ", r.pid, " kind ", static_cast<int>(r.kind));
    } else if (r.kind == RecordKind::idle && start_failures_.count() > 0) {
        log::line("workers start again after ", start_failures_.count(), " failures");
        start_failures_.started();  // it reached its accept loop: the crash loop is over
    }
}

void Pool::listen_to_workers() {
    if (config_.report == Report::pipe) {
        read_records();
    } else {
        read_board(0);
    }
}

//! [read_board]
/// --report scoreboard: each worker's slot is read as if it were a record, and counts as one when
/// it changed since the last look (a new state, or more requests served). \p only: that worker
/// only (0: all).
void Pool::read_board(pid_t only) {
    auto now = Clock::now();
    for (const auto& [pid, w] : workers_.all()) {
        const ch03::Slot& slot = board_.slot(w.slot);
        int kind = record_kind_of(static_cast<ch03::SlotState>(slot.state.load()));
        const Heard* h = reports_.find(pid);
        if ((only != 0 && pid != only) || kind == 0 || h == nullptr) {
            continue;
        }
        Record r{static_cast<std::int32_t>(pid),
                 static_cast<RecordKind>(kind),
                 {},
                 slot.requests.load()};
        if (!h->spoke || h->said != r.kind || h->requests != r.requests) {
            hear(r, now);
        }
    }
}
//! [read_board]

/// True while a worker forked by us has not said anything yet.
bool Pool::probing() const {
    return std::any_of(workers_.all().begin(), workers_.all().end(), [this](const auto& e) {
        const Heard* h = reports_.find(e.first);
        return h != nullptr && !h->spoke;
    });
}

//! [maintain]
void Pool::maintain() {
    std::vector<WorkerInfo> snapshot;
    auto now = Clock::now();
    for (const auto& [pid, w] : workers_.all()) {
        const Heard* h = reports_.find(pid);
        if (w.stopping() || h == nullptr || (h->spoke && h->said == RecordKind::exiting)) {
            continue;  // leaving: no longer part of the pool
        }
        long age = std::chrono::duration_cast<milliseconds>(now - w.spawned).count();
        snapshot.push_back({pid, h->idle(), age});
    }
    Decision d = decide(snapshot, config_.policy, policy_state_);
    if (d.cap_reached) {
        log::line("cap of ", config_.policy.max_workers, " workers reached");
    }
    int spawn = d.spawn;
    if (spawn > 0 && start_failures_.count() > 0) {
        // In a crash loop: one probe at a time, after the back-off, never a burst.
        spawn = probing() || now < spawn_after_ ? 0 : 1;
    }
    if (spawn > 0 || !d.retire.empty()) {
        log::line(d.reason);
    }
    for (int i = 0; i < spawn && spawn_worker(); ++i) {
    }
    for (pid_t pid : d.retire) {
        ask_to_leave(pid, SIGHUP, milliseconds(config_.graceful_timeout_ms),
                     "retired (idle above the high mark)");
    }
}
//! [maintain]

void Pool::ask_to_leave(pid_t pid, int sig, milliseconds grace, const std::string& why) {
    if (workers_.stop(pid, sig, grace)) {
        why_leaving_.emplace(pid, why);  // the first reason stays: a hung worker stays hung
    }
}

//! [stop_hung]
void Pool::stop_hung() {
    for (pid_t pid : reports_.silent(Clock::now(), milliseconds(config_.heartbeat_timeout_ms))) {
        if (workers_.serving(pid)) {
            log::line("worker ", pid, " hung: silent for over ", config_.heartbeat_timeout_ms,
                      " ms while busy or starting: SIGTERM, SIGKILL ", hung_grace.count(),
                      " ms later");
            ask_to_leave(pid, SIGTERM, hung_grace, "hung");
        }
    }
}
//! [stop_hung]

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

//! [move_marks]
void Pool::move_marks(int sig) {
    PolicyConfig& p = config_.policy;
    if (sig == SIGTTOU && p.min_idle <= 1) {
        log::line("TTOU: the low water mark stays at 1 (a pool with no idle worker never grows)");
        return;
    }
    if (sig == SIGTTIN && p.min_idle >= p.max_workers) {
        log::line("TTIN: the low water mark is at the cap of ", p.max_workers, " already");
        return;
    }
    long step = sig == SIGTTIN ? 1 : -1;
    p.min_idle += step;
    p.max_idle += step;
    log::line(sig == SIGTTIN ? "TTIN" : "TTOU", ": water marks now min ", p.min_idle, ", max ",
              p.max_idle);
}
//! [move_marks]

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

}  // namespace

int run_pool(int listener, ch03::AcceptLock& lock, ch03::Scoreboard& board,
             ch01::SignalEvents& signals, const PoolConfig& config) {
    return Pool(listener, lock, board, config).run(signals);
}

}  // namespace forklab::ch04
