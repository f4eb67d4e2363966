/// \file
/// \brief The master of chapter 04: grows and shrinks chapter 03's pool between idle water marks.
#pragma once

#include "01_fork_server/signals.hpp"
#include "03_prefork_flock/accept_lock.hpp"
#include "03_prefork_flock/scoreboard.hpp"
#include "forklab/serve.hpp"
#include "policy.hpp"

namespace forklab::ch04 {

/// How the master learns what each worker does (`--report`).
enum class Report {
    scoreboard,  ///< It reads the workers' scoreboard slots at every maintenance period.
    pipe,        ///< The workers send records over a pipe at every change that counts.
};

/// Settings of the adaptive pool (main() checks them: a pool built from them can always serve).
struct PoolConfig {
    long start_workers = 3;              ///< Forked before the first connection (<= the cap).
    PolicyConfig policy;                 ///< Water marks (min_idle >= 1), cap, minimum age.
    Report report = Report::scoreboard;  ///< Records over the pipe, or the scoreboard.
    long max_requests = 0;               ///< Per worker, before jitter; 0: unlimited.
    long maintenance_ms = 1000;          ///< How often the policy runs.
    long heartbeat_timeout_ms = 75000;  ///< Busy and silent longer than this: hung, TERM then KILL.
    long graceful_timeout_ms = 10000;   ///< QUIT and HUP: how long a worker may take to leave.
    bool drills = false;                ///< /crash and /hang.
    bool crash_at_start = false;        ///< Drill: every worker aborts before its accept loop.
    ServeLimits limits;                 ///< Per connection.
    int max_start_failures = 5;         ///< As chapter 03 (which has no flag for it either).
};

/// Runs the master until the pool is stopped; returns the exit code: 0 after a stop, 1 after
/// giving up (a worker could not set up, or workers kept dying at start). \p signals must route
/// SIGCHLD, SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGUSR1, SIGTTIN and SIGTTOU; \p board needs at
/// least 2 * max_workers slots (workers still leaving keep theirs until they are reaped).
int run_pool(int listener, ch03::AcceptLock& lock, ch03::Scoreboard& board,
             ch01::SignalEvents& signals, const PoolConfig& config);

}  // namespace forklab::ch04
