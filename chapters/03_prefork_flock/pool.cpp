/// \file
/// \brief The master's loop: signals and child exits in, spawns and stop signals out.
#include "pool.hpp"

#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <deque>
#include <string>

#include "forklab/log.hpp"
#include "forklab/process.hpp"
#include "forklab/reap.hpp"
#include "forklab/start_failures.hpp"
#include "worker.hpp"

namespace forklab::ch03 {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

class Pool {
  public:
    Pool(int listener, AcceptLock& lock, Scoreboard& board, const PoolConfig& config)
        : listener_(listener),
          lock_(lock),
          board_(board),
          config_(config),
          design_(std::string("prefork, accept lock ") + to_string(lock.kind())),
          start_failures_(config.max_start_failures) {}
    int run(SignalEvents& signals);

  private:
    enum class Mode { running, graceful, fast };
    void spawn_worker();
    void on_signal(int sig);
    void on_exit(const ChildExit& end);
    void stop(Mode how);
    void replace_next();
    void signal_workers(int sig);
    [[nodiscard]] long live() const { return static_cast<long>(board_.in_use()); }
    [[nodiscard]] int poll_timeout() const;

    int listener_;
    AcceptLock& lock_;
    Scoreboard& board_;
    const PoolConfig& config_;
    std::string design_;
    Mode mode_ = Mode::running;
    unsigned generation_ = 0;
    StartFailures start_failures_;
    int exit_code_ = 0;
    std::deque<pid_t> to_replace_;  // HUP: old workers still to be replaced, one at a time
    pid_t replacing_ = 0;           // the old worker being replaced now
    Clock::time_point respawn_at_{};
    Clock::time_point deadline_{};
    Clock::time_point resend_at_{};
};

void Pool::spawn_worker() {
    std::size_t slot = board_.find_free();
    if (slot == board_.size()) {
        return;
    }
    WorkerContext context{listener_,      lock_,          board_,
                          slot,           ::getpid(),     config_.max_requests,
                          config_.drills, config_.limits, design_.c_str()};
    try {
        pid_t pid = spawn([&] { return run_worker(context); }, {SIGINT});
        Slot& s = board_.slot(slot);
        s.generation = generation_;
        s.requests = 0;
        s.started_ms = Scoreboard::now_ms();
        s.pid = pid;
        log::line("spawned worker ", pid, " (slot ", slot, ")");
    } catch (const std::system_error& e) {
        log::line(e.what(), ": will retry");
        respawn_at_ = Clock::now() + milliseconds(100);
    }
}

void Pool::signal_workers(int sig) {
    for (std::size_t i = 0; i < board_.size(); ++i) {
        if (pid_t pid = board_.slot(i).pid; pid != 0) {
            ::kill(pid, sig);
        }
    }
}

//! [on_exit]
void Pool::on_exit(const ChildExit& end) {
    std::size_t i = board_.find(end.pid);
    if (i == board_.size()) {
        return;
    }
    Slot& s = board_.slot(i);
    unsigned long served = s.requests;
    bool never_started = static_cast<SlotState>(s.state.load()) == SlotState::starting;
    bool replaced = end.pid == replacing_;
    s.state = static_cast<int>(SlotState::free);
    s.pid = 0;
    std::string why = replaced                 ? "replaced (HUP)"
                      : mode_ != Mode::running ? "stopped"
                      : end.clean()
                          ? "retired after " + std::to_string(served) + " requests (max-requests)"
                          : "died";
    if (mode_ == Mode::fast && end.signaled() && end.signal() == SIGTERM) {
        log::line("worker ", end.pid, " stopped by the fast stop");  // our own SIGTERM: no crash
    } else {
        log::line("worker ", end.pid, " ", end.describe(), ": ", why);
    }
    if (mode_ != Mode::running) {
        return;
    }
    if (replaced) {
        replacing_ = 0;
        replace_next();
        return;
    }
    // A worker that dies before it could wait for a connection, again and again, is a start-up
    // failure: back off instead of forking in a loop, and give up after a few (pitfall 13).
    if (!end.clean() && never_started) {
        std::optional<long> delay = start_failures_.failed();
        if (!delay) {
            log::line("workers failed ", start_failures_.count(),
                      " times in a row before serving anything: giving up");
            exit_code_ = 1;
            stop(Mode::fast);
            return;
        }
        log::line("start-up failure ", start_failures_.count(), " of ", start_failures_.limit(),
                  ": next worker in ", *delay, " ms");
        respawn_at_ = Clock::now() + milliseconds(*delay);
        return;
    }
    if (!never_started) {
        start_failures_.started();
    }
    if (live() < config_.workers) {
        spawn_worker();
    }
}
//! [on_exit]

void Pool::replace_next() {
    while (!to_replace_.empty()) {
        pid_t old = to_replace_.front();
        to_replace_.pop_front();
        if (board_.find(old) == board_.size()) {
            continue;  // already gone
        }
        spawn_worker();  // the new one first: the pool never drops below N accepting workers
        replacing_ = old;
        ::kill(old, SIGQUIT);
        return;
    }
    log::line("all workers replaced (generation ", generation_, ")");
}

void Pool::stop(Mode how) {
    if (mode_ == how || mode_ == Mode::fast) {
        return;
    }
    mode_ = how;
    to_replace_.clear();
    int sig = how == Mode::fast ? SIGTERM : SIGQUIT;
    long wait_ms = how == Mode::fast ? std::min(config_.graceful_timeout_ms, 2000L)
                                     : config_.graceful_timeout_ms;
    deadline_ = Clock::now() + milliseconds(wait_ms);
    resend_at_ = Clock::now() + milliseconds(100);
    log::line(how == Mode::fast ? "fast stop" : "graceful stop", ": ", live(), " workers");
    signal_workers(sig);
}

void Pool::on_signal(int sig) {
    switch (sig) {
        case SIGCHLD:
            for (const ChildExit& end : reap_children()) {
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
                ++generation_;
                log::line("HUP: replacing ", live(), " workers one by one");
                to_replace_.clear();
                for (std::size_t i = 0; i < board_.size(); ++i) {
                    Slot& s = board_.slot(i);
                    if (s.pid != 0 && s.generation != generation_ && s.pid != replacing_) {
                        to_replace_.push_back(s.pid);
                    }
                }
                if (replacing_ == 0) {
                    replace_next();
                }
            }
            break;
        case SIGUSR1:
            log::reopen();
            signal_workers(SIGUSR1);
            break;
        default:
            break;
    }
}

int Pool::poll_timeout() const {
    auto now = Clock::now();
    auto until = [&](Clock::time_point t) {
        return static_cast<int>(
            std::max<long>(0, std::chrono::duration_cast<milliseconds>(t - now).count() + 1));
    };
    if (mode_ != Mode::running) {
        return std::min(until(deadline_), until(resend_at_));
    }
    return respawn_at_ > now ? until(respawn_at_) : (live() < config_.workers ? 0 : -1);
}

//! [master_loop]
int Pool::run(SignalEvents& signals) {
    for (long i = 0; i < config_.workers; ++i) {
        spawn_worker();
    }
    for (;;) {
        auto now = Clock::now();
        if (mode_ != Mode::running) {
            if (live() == 0) {
                break;
            }
            if (now >= deadline_) {
                log::line("stop timed out: killing ", live(), " workers");
                signal_workers(SIGKILL);
                deadline_ = now + milliseconds(1000);
            } else if (now >= resend_at_) {
                // A stop signal that landed just before a worker blocked in flock() is not
                // lost: repeat it until every worker is gone.
                signal_workers(mode_ == Mode::fast ? SIGTERM : SIGQUIT);
                resend_at_ = now + milliseconds(100);
            }
        } else if (live() < config_.workers && now >= respawn_at_) {
            spawn_worker();  // keep exactly N (a retired or dead worker's place)
        }
        pollfd p{signals.fd(), POLLIN, 0};
        if (::poll(&p, 1, poll_timeout()) > 0) {
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

int run_pool(int listener, AcceptLock& lock, Scoreboard& board, SignalEvents& signals,
             const PoolConfig& config) {
    return Pool(listener, lock, board, config).run(signals);
}

}  // namespace forklab::ch03
