/// \file
/// \brief The master of chapter 03: keeps exactly N workers, replaces them, stops them.
#pragma once

#include <chrono>

#include "01_fork_server/signals.hpp"
#include "01_fork_server/spawn.hpp"
#include "accept_lock.hpp"
#include "forklab/serve.hpp"
#include "scoreboard.hpp"

namespace forklab::ch03 {

/// Settings of the pool.
struct PoolConfig {
    long workers = 4;                  ///< Workers kept alive.
    long max_requests = 0;             ///< Per worker, before jitter; 0: unlimited.
    long graceful_timeout_ms = 10000;  ///< QUIT and HUP: how long a worker may take to leave.
    bool drills = false;               ///< /crash and /hang.
    bool crash_at_start = false;       ///< Drill: every worker aborts before its accept loop.
    ServeLimits limits;                ///< Per connection.
    int max_start_failures = 5;        ///< Workers dying before their accept loop, in a row,
                                       ///< before the master gives up.
};

/// What a later chapter adds to the master's loop without changing it (chapter 07: the live
/// upgrade). The pool calls it from its loop, never from a signal handler; chapter 03 runs with
/// none. Each default does nothing.
class PoolExtension {
  public:
    using Clock = std::chrono::steady_clock;  ///< The clock of on_turn().
    virtual ~PoolExtension() = default;
    /// Every signal, before the pool acts on it (the pool ignores those it does not know).
    virtual void on_signal(int /*sig*/) {}
    /// A reaped child that is not one of the pool's workers.
    virtual void on_other_child(const ch01::ChildExit& /*end*/) {}
    /// A descriptor the loop polls besides the signal pipe; -1: none. Asked on every turn.
    [[nodiscard]] virtual int fd() const { return -1; }
    /// fd() is readable (or its other end has closed).
    virtual void on_readable() {}
    /// On every turn of the loop; returns when the loop should turn again at the latest.
    virtual Clock::time_point on_turn() { return Clock::time_point::max(); }
};

/// Runs the master's loop until the pool is stopped; returns the exit code: 0 after a stop, 1
/// after giving up (a worker could not set up, or workers kept dying at start). \p signals must
/// route SIGCHLD, SIGTERM, SIGINT, SIGQUIT, SIGHUP and SIGUSR1; \p board needs at least
/// workers + 1 slots (a HUP runs one extra worker). The master never accepts: it only watches.
/// \p extension (not owned, may be null) is called from the loop.
int run_pool(int listener, AcceptLock& lock, Scoreboard& board, ch01::SignalEvents& signals,
             const PoolConfig& config, PoolExtension* extension = nullptr);

}  // namespace forklab::ch03
