/// \file
/// \brief The master of chapter 04 as a class: its state, and its duties split over two files.
#pragma once

#include <fcntl.h>

#include <chrono>
#include <map>
#include <string>

#include "01_fork_server/reap.hpp"
#include "01_fork_server/signals.hpp"
#include "03_prefork_flock/rolling_restart.hpp"
#include "03_prefork_flock/start_failures.hpp"
#include "03_prefork_flock/worker_table.hpp"
#include "forklab/fd.hpp"
#include "pool.hpp"
#include "records.hpp"
#include "reports.hpp"

namespace forklab::ch04 {

using Clock = std::chrono::steady_clock;  ///< The master's clock.
using std::chrono::milliseconds;

/// The master reads the pipe at most this often. Records wait there meanwhile (the pipe holds
/// 4,096), so a busy pool wakes its master about 100 times a second, not once per record.
constexpr milliseconds read_every{10};
/// A hung worker gets SIGTERM, then SIGKILL this much later.
constexpr milliseconds hung_grace{1000};

/// The master's state and its duties, shared by pool.cpp (the loop, exits, stops, HUP) and
/// maintenance.cpp (hearing the workers, the policy, hung workers, TTIN and TTOU). Master only.
class Pool {
  public:
    /// Over \p listener, with chapter 03's \p lock and \p board; \p config is copied.
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
    /// The master's loop (run_pool()).
    int run(ch01::SignalEvents& signals);

  private:
    // maintenance.cpp: hearing the workers, the policy, hung workers, the water marks.
    void listen_to_workers();
    void read_records();
    void read_board(pid_t only);
    void hear(const Record& record, Clock::time_point now);
    [[nodiscard]] bool probing() const;
    void maintain();
    void ask_to_leave(pid_t pid, int sig, milliseconds grace, const std::string& why);
    void stop_hung();
    void move_marks(int sig);

    // pool.cpp: the loop, spawns, exits, stops and the rolling restart.
    enum class Mode { running, graceful, fast };
    bool spawn_worker();
    void on_signal(int sig);
    void on_exit(const ch01::ChildExit& end);
    bool backed_off(pid_t pid);
    void stop(Mode how);
    void hup();
    void replace_next();
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

}  // namespace forklab::ch04
