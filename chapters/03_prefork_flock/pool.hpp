/// \file
/// \brief The master of chapter 03: keeps exactly N workers, replaces them, stops them.
#pragma once

#include "01_fork_server/signals.hpp"
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

/// Runs the master's loop until the pool is stopped; returns the exit code: 0 after a stop, 1
/// after giving up (a worker could not set up, or workers kept dying at start). \p signals must
/// route SIGCHLD, SIGTERM, SIGINT, SIGQUIT, SIGHUP and SIGUSR1; \p board needs at least
/// workers + 1 slots (a HUP runs one extra worker). The master never accepts: it only watches.
int run_pool(int listener, AcceptLock& lock, Scoreboard& board, ch01::SignalEvents& signals,
             const PoolConfig& config);

}  // namespace forklab::ch03
