/// \file
/// \brief The master's loop: records and signals in; the policy, heartbeats and stops out.
#include "pool.hpp"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <map>
#include <set>

#include "01_fork_server/reap.hpp"
#include "01_fork_server/signals.hpp"
#include "01_fork_server/spawn.hpp"
#include "03_prefork_flock/start_failures.hpp"
#include "forklab/fd.hpp"
#include "forklab/log.hpp"
#include "records.hpp"
#include "worker.hpp"

namespace forklab::ch04 {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

long ms_since(Clock::time_point t) {
    return std::chrono::duration_cast<milliseconds>(Clock::now() - t).count();
}

/// The master's view of one worker, built from its records.
struct Worker {
    enum class State { starting, idle, busy, exiting } state = State::starting;
    Clock::time_point spawned = Clock::now();
    Clock::time_point last_seen = Clock::now();
    unsigned long requests = 0;
    bool retiring = false;  // asked to leave by the policy, a HUP or a stop
    bool hung = false;      // stopped for silence
    std::size_t slot = 0;
};

class Pool {
  public:
    Pool(int listener, ch03::Scoreboard& board, PoolConfig config);
    int run(ch01::SignalEvents& signals);

  private:
    enum class Mode { running, graceful, fast };
    void spawn_worker();
    void read_records();
    void maintain();
    void check_heartbeats();
    void on_signal(int sig);
    void on_exit(const ch01::ChildExit& end);
    void stop(Mode how);
    void retire(pid_t pid, const char* why);
    void signal_all(int sig);

    int listener_;
    ch03::Scoreboard& board_;
    PoolConfig config_;
    Pipe pipe_;
    RecordReader reader_;
    std::map<pid_t, Worker> workers_;
    std::set<pid_t> gone_;  // recently reaped: their last records may still be in the pipe
    PolicyState policy_state_;
    ch03::StartFailures start_failures_{5};
    Mode mode_ = Mode::running;
    int exit_code_ = 0;
    Clock::time_point next_maintenance_ = Clock::now();
    Clock::time_point spawn_blocked_until_{};
    Clock::time_point deadline_{};
    Clock::time_point resend_at_{};
};

Pool::Pool(int listener, ch03::Scoreboard& board, PoolConfig config)
    : listener_(listener), board_(board), config_(config), pipe_(make_pipe()) {
    set_nonblocking(pipe_.read_end.get());  // the master never blocks on a read
}

void Pool::spawn_worker() {
    std::size_t slot = board_.find_free();
    if (slot == board_.size()) {
        return;
    }
    WorkerContext context{listener_,
                          pipe_.write_end.get(),
                          board_,
                          slot,
                          ::getpid(),
                          config_.max_requests,
                          config_.heartbeat_ms,
                          config_.drills,
                          config_.fail_at_start,
                          config_.limits};
    try {
        // QUIT, HUP and USR1 are held until the worker's handlers are in place (it releases
        // them): a USR1 for log rotation must not kill a worker that is still starting.
        ch01::BlockedSignals held{SIGQUIT, SIGHUP, SIGUSR1};
        pid_t pid = ch01::spawn(
            [&] {
                pipe_.read_end.reset();  // the worker only writes
                return run_worker(context);
            },
            {SIGINT});
        ch03::Slot& s = board_.slot(slot);
        s.requests = 0;
        s.state = static_cast<int>(ch03::SlotState::starting);
        s.started_ms = ch03::Scoreboard::now_ms();
        s.pid = pid;
        Worker w;
        w.slot = slot;
        workers_[pid] = w;
    } catch (const std::system_error& e) {
        log::line(e.what(), ": will retry");
        spawn_blocked_until_ = Clock::now() + milliseconds(100);
    }
}

//! [read_records]
void Pool::read_records() {
    char buf[4096];
    for (;;) {
        ssize_t n = ::read(pipe_.read_end.get(), buf, sizeof buf);
        if (n <= 0) {
            return;  // EAGAIN: drained (EINTR: the loop comes back)
        }
        for (const Record& r : reader_.feed(buf, static_cast<std::size_t>(n))) {
            auto it = workers_.find(r.pid);
            if (!well_formed(r) || (it == workers_.end() && gone_.count(r.pid) == 0)) {
                log::line("bad record: pid ", r.pid, " kind ", static_cast<int>(r.kind));
                continue;
            }
            if (it == workers_.end()) {
                continue;  // a late record from a worker already reaped
            }
            Worker& w = it->second;
            w.last_seen = Clock::now();
            w.requests = r.requests;
            switch (r.kind) {
                case RecordKind::idle:
                    w.state = Worker::State::idle;
                    break;
                case RecordKind::busy:
                    w.state = Worker::State::busy;
                    break;
                case RecordKind::exiting:
                    w.state = Worker::State::exiting;
                    break;
                case RecordKind::heartbeat:
                    break;
            }
            if (r.kind == RecordKind::idle) {
                start_failures_.started();  // it got as far as waiting for a connection
            }
        }
    }
}
//! [read_records]

//! [maintain]
void Pool::maintain() {
    std::vector<WorkerInfo> snapshot;
    for (const auto& [pid, w] : workers_) {
        if (!w.retiring && w.state != Worker::State::exiting) {
            snapshot.push_back({pid, w.state != Worker::State::busy, ms_since(w.spawned)});
        }
    }
    Decision d = decide(snapshot, config_.policy, policy_state_);
    if (d.cap_reached) {
        log::line("cap of ", config_.policy.max_workers, " workers reached");
    }
    if (!d.reason.empty() && (d.spawn > 0 || !d.retire.empty())) {
        log::line(d.reason);
    }
    int spawn = d.spawn;
    if (start_failures_.count() > 0) {
        // In a crash loop: one probe at a time, after the back-off, never a burst.
        bool probing = std::any_of(workers_.begin(), workers_.end(), [](const auto& entry) {
            return entry.second.state == Worker::State::starting;
        });
        spawn = probing || Clock::now() < spawn_blocked_until_ ? 0 : std::min(spawn, 1);
    }
    for (int i = 0; i < spawn; ++i) {
        spawn_worker();
    }
    for (pid_t pid : d.retire) {
        retire(pid, "retired by the policy");
    }
}
//! [maintain]

void Pool::retire(pid_t pid, const char* why) {
    auto it = workers_.find(pid);
    if (it != workers_.end() && !it->second.retiring) {
        it->second.retiring = true;
        ::kill(pid, SIGQUIT);  // finish the connection in hand, then go
        (void)why;
    }
}

void Pool::check_heartbeats() {
    for (auto& [pid, w] : workers_) {
        long silent = ms_since(w.last_seen);
        if (!w.hung && silent > config_.heartbeat_timeout_ms) {
            w.hung = true;
            w.retiring = true;
            log::line("worker ", pid, " hung: silent for ", silent, " ms: stopping it");
            ::kill(pid, SIGTERM);
        } else if (w.hung && silent > config_.heartbeat_timeout_ms + 1000) {
            ::kill(pid, SIGKILL);  // it did not even die of TERM
        }
    }
}

void Pool::on_exit(const ch01::ChildExit& end) {
    auto it = workers_.find(end.pid);
    if (it == workers_.end()) {
        return;
    }
    Worker w = it->second;
    workers_.erase(it);
    gone_.insert(end.pid);
    if (gone_.size() > 256) {
        gone_.erase(gone_.begin());
    }
    ch03::Slot& s = board_.slot(w.slot);
    s.pid = 0;
    s.state = static_cast<int>(ch03::SlotState::free);
    bool expected_term = (w.hung || mode_ == Mode::fast) && end.signaled() &&
                         (end.signal() == SIGTERM || end.signal() == SIGKILL);
    std::string why = w.hung                   ? "replaced after hanging"
                      : mode_ != Mode::running ? "stopped"
                      : w.retiring             ? "retired (idle above the high mark)"
                      : end.clean()            ? "retired after max requests"
                                               : "died";
    if (expected_term) {
        log::line("worker ", end.pid, " ended by signal ", end.signal(), ": ", why);
    } else {
        log::line("worker ", end.pid, " ", end.describe(), " after ", w.requests,
                  " requests: ", why);
    }
    if (mode_ != Mode::running) {
        return;
    }
    if (!end.clean() && w.state == Worker::State::starting && !w.hung) {
        std::optional<long> delay = start_failures_.failed();
        if (!delay) {
            log::line("workers died ", start_failures_.count(),
                      " times in a row before serving: giving up");
            exit_code_ = 1;
            stop(Mode::fast);
            return;
        }
        log::line("crash loop: ", start_failures_.count(), " in a row, next spawn in ", *delay,
                  " ms");
        spawn_blocked_until_ = Clock::now() + milliseconds(*delay);
    }
}

void Pool::signal_all(int sig) {
    for (const auto& [pid, w] : workers_) {
        ::kill(pid, sig);
    }
}

void Pool::stop(Mode how) {
    if (mode_ == how || mode_ == Mode::fast) {
        return;
    }
    mode_ = how;
    long wait_ms = how == Mode::fast ? std::min(config_.graceful_timeout_ms, 2000L)
                                     : config_.graceful_timeout_ms;
    deadline_ = Clock::now() + milliseconds(wait_ms);
    resend_at_ = Clock::now() + milliseconds(100);
    log::line(how == Mode::fast ? "fast stop" : "graceful stop", ": ", workers_.size(), " workers");
    signal_all(how == Mode::fast ? SIGTERM : SIGQUIT);
}

void Pool::on_signal(int sig) {
    PolicyConfig& p = config_.policy;
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
            log::line("HUP: retiring every worker; the policy starts new ones");
            for (const auto& [pid, w] : workers_) {
                retire(pid, "HUP");
            }
            break;
        case SIGTTIN:
        case SIGTTOU: {
            long step = sig == SIGTTIN ? 1 : -1;
            if (p.min_idle + step >= 0 && p.max_idle + step >= p.min_idle + step) {
                p.min_idle += step;
                p.max_idle += step;
            }
            log::line(sig == SIGTTIN ? "TTIN" : "TTOU", ": water marks now min ", p.min_idle,
                      ", max ", p.max_idle);
            break;
        }
        case SIGUSR1:
            log::reopen();
            signal_all(SIGUSR1);
            break;
        default:
            break;
    }
}

//! [master_loop]
int Pool::run(ch01::SignalEvents& signals) {
    for (long i = 0; i < config_.start_workers; ++i) {
        spawn_worker();
    }
    for (;;) {
        auto now = Clock::now();
        if (mode_ == Mode::running) {
            if (now >= next_maintenance_) {
                maintain();
                check_heartbeats();
                next_maintenance_ = now + milliseconds(config_.maintenance_ms);
            }
        } else if (workers_.empty()) {
            break;
        } else if (now >= deadline_) {
            log::line("stop timed out: killing ", workers_.size(), " workers");
            signal_all(SIGKILL);
            deadline_ = now + milliseconds(1000);
        } else if (now >= resend_at_) {
            signal_all(mode_ == Mode::fast ? SIGTERM : SIGQUIT);
            resend_at_ = now + milliseconds(100);
        }
        auto next = mode_ == Mode::running ? next_maintenance_ : std::min(deadline_, resend_at_);
        int timeout = static_cast<int>(std::max<long>(
            0, std::chrono::duration_cast<milliseconds>(next - Clock::now()).count() + 1));
        pollfd fds[2] = {{signals.fd(), POLLIN, 0}, {pipe_.read_end.get(), POLLIN, 0}};
        if (::poll(fds, 2, timeout) > 0) {
            if (fds[1].revents & POLLIN) {
                read_records();  // before reaping: a worker's last words come first
            }
            if (fds[0].revents & POLLIN) {
                read_records();
                for (int sig : signals.take()) {
                    on_signal(sig);
                }
            }
        }
    }
    log::line("stopped");
    return exit_code_;
}
//! [master_loop]

}  // namespace

int run_pool(int listener, ch03::Scoreboard& board, ch01::SignalEvents& signals,
             PoolConfig config) {
    return Pool(listener, board, config).run(signals);
}

}  // namespace forklab::ch04
