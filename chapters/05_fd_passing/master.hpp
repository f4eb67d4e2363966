/// \file
/// \brief The master of chapter 05: accepts, and passes each connection to a worker. Its loop is
/// in master.cpp (accepting and passing), its pool in master_workers.cpp (forking, reaping,
/// replacing and stopping workers).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <span>
#include <vector>

#include "01_fork_server/acceptor.hpp"
#include "01_fork_server/signals.hpp"
#include "01_fork_server/spawn.hpp"
#include "03_prefork_flock/rolling_restart.hpp"
#include "03_prefork_flock/scoreboard.hpp"
#include "03_prefork_flock/start_failures.hpp"
#include "03_prefork_flock/worker_table.hpp"
#include "channel.hpp"
#include "connections.hpp"
#include "dispatch.hpp"
#include "forklab/fd.hpp"
#include "router.hpp"
#include "stats.hpp"
#include "timers.hpp"

namespace forklab::ch05 {

/// Settings of the master and its workers.
struct MasterConfig {
    long workers = 2;                  ///< Worker processes (default: one per core).
    ConnectionLimits limits;           ///< Each worker's timeouts and connection cap.
    long graceful_timeout_ms = 10000;  ///< QUIT: how long workers may finish before SIGKILL.
    int max_start_failures = 5;        ///< Workers dying before their loop, in a row, before the
                                       ///< master gives up (exit code 1).
    bool drills = false;               ///< /crash and /hang.
    Router* router = nullptr;          ///< A later chapter's second look at each connection
                                       ///< (not owned); none in chapter 05.
};

/// Runs the master until it is stopped; returns the exit code (0, or 1 when workers kept dying at
/// start). Takes ownership of \p listener, which must be non-blocking. \p signals must route
/// SIGCHLD, SIGTERM, SIGINT, SIGQUIT, SIGHUP and SIGUSR1; \p board needs two slots per worker (a
/// HUP starts each replacement before its predecessor has left).
int run_master(Fd listener, ch03::Scoreboard& board, DispatchStats& stats,
               ch01::SignalEvents& signals, const MasterConfig& config);

/// A worker the master has forked and not yet reaped: the master's end of its channel.
struct WorkerChannel {
    Fd master_end;          ///< The master's end of the socketpair.
    std::size_t index = 0;  ///< The worker's index among the workers (current_ below).
    std::size_t slot = 0;   ///< Its scoreboard slot.
    bool watched = true;    ///< In the master's epoll set (until its end-of-file is seen).
};

/// The worker that holds one index of the pool now: new connections for that index go to it.
struct CurrentWorker {
    pid_t pid = 0;                     ///< 0: none (dead or being replaced, not yet respawned).
    WorkerChannel* channel = nullptr;  ///< That worker's channel.
};

/// The master: one epoll loop over the listener, the signal pipe and the workers' channels.
class Master : public Dispatcher {
  public:
    /// Takes ownership of \p listener (non-blocking). Throws std::system_error naming the call
    /// that failed (epoll_create1, epoll_ctl).
    Master(Fd listener, ch03::Scoreboard& board, DispatchStats& stats, ch01::SignalEvents& signals,
           const MasterConfig& config);
    /// Forks the workers, runs until stopped; returns the exit code.
    int run();

    bool pass_to(std::size_t index, std::span<const char> message, Fd& conn) override;
    bool dispatch(std::span<const char> message, Fd conn) override;

  private:
    using milliseconds = std::chrono::milliseconds;
    enum class Mode { running, graceful, fast };

    /// What an epoll event of the master is about: the high half of data.u64 (the low half: the
    /// descriptor of a channel).
    enum class Source : std::uint32_t { listener = 1, signals = 2, channel = 3 };
    static std::uint64_t tag(Source source, int fd = 0) {
        return static_cast<std::uint64_t>(source) << 32 | static_cast<std::uint32_t>(fd);
    }

    // master.cpp: the loop, accepting and passing.
    void accept_some(int most);
    void stop_accepting();
    void resume_accepting(Clock::time_point now);
    bool pass(const WorkerChannel& to, std::span<const char> message, Fd& conn);
    void refuse(Fd conn);
    void read_channel(std::map<pid_t, WorkerChannel>::iterator worker);
    void on_channel_event(int fd);
    void on_signal(int sig);

    // master_workers.cpp: the pool.
    bool spawn_worker(std::size_t index);
    [[nodiscard]] bool taking(const CurrentWorker& current) const;
    void keep_pool_full(Clock::time_point now);
    void on_exit(const ch01::ChildExit& end);
    void stop(Mode how);
    void hup();
    void replace_next();

    [[nodiscard]] ch03::SlotState state_of(const WorkerChannel& worker) const {
        return static_cast<ch03::SlotState>(board_.slot(worker.slot).state.load());
    }

    Fd listener_;
    ch03::Scoreboard& board_;
    DispatchStats& stats_;
    ch01::SignalEvents& signals_;
    const MasterConfig& config_;
    Fd epoll_;
    ch01::Acceptor acceptor_;
    ch03::WorkerTable workers_;
    ch03::RollingRestart rolling_;
    ch03::StartFailures start_failures_;
    std::map<pid_t, WorkerChannel> channels_;    // every worker not yet reaped
    std::vector<CurrentWorker> current_;         // by index
    std::vector<Clock::time_point> respawn_at_;  // by index
    std::vector<Candidate> candidates_;          // dispatch's view, rebuilt per connection
    Message message_;                            // what a worker's channel holds is read here
    Mode mode_ = Mode::running;
    int exit_code_ = 0;
    unsigned generation_ = 0;
    std::size_t turn_ = 0;  // where dispatch starts scanning: equal workers take turns
    bool accepting_ = true;
    bool starved_ = false;  // in an EMFILE back-off (logged once)
    Clock::time_point resume_accept_{};
    Clock::time_point failed_at_{};
};

}  // namespace forklab::ch05
