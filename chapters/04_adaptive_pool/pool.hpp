/// \file
/// \brief The master of chapter 04: grows and shrinks the pool between the idle water marks.
#pragma once

#include "01_fork_server/signals.hpp"
#include "03_prefork_flock/scoreboard.hpp"
#include "forklab/serve.hpp"
#include "policy.hpp"

namespace forklab::ch04 {

/// Settings of the adaptive pool.
struct PoolConfig {
    long start_workers = 3;             ///< Forked before the first connection.
    PolicyConfig policy;                ///< Water marks, cap, minimum age.
    long max_requests = 0;              ///< Per worker, before jitter; 0: unlimited.
    long maintenance_ms = 1000;         ///< How often the policy runs.
    long heartbeat_ms = 500;            ///< How often an idle worker says it is alive.
    long heartbeat_timeout_ms = 75000;  ///< Silent longer than this: hung, TERM then KILL.
    long graceful_timeout_ms = 10000;   ///< QUIT: how long to wait before SIGKILL.
    bool drills = false;                ///< /crash and /hang.
    bool fail_at_start = false;         ///< Drill: every worker fails at start.
    ServeLimits limits;                 ///< Per connection.
};

/// Runs the master until the pool is stopped; returns the exit code (1 after giving up on a
/// crash loop). \p signals must route SIGCHLD, SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGUSR1,
/// SIGTTIN and SIGTTOU.
int run_pool(int listener, ch03::Scoreboard& board, ch01::SignalEvents& signals, PoolConfig config);

}  // namespace forklab::ch04
