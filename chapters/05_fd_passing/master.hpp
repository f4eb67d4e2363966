/// \file
/// \brief The master of chapter 05: accepts, and passes each connection to a worker.
#pragma once

#include "01_fork_server/signals.hpp"
#include "03_prefork_flock/scoreboard.hpp"
#include "connections.hpp"
#include "forklab/fd.hpp"
#include "route.hpp"
#include "stats.hpp"

namespace forklab::ch05 {

/// Settings of the master and its workers.
struct MasterConfig {
    long workers = 2;                  ///< Worker processes (default: one per core).
    RouteConfig route;                 ///< Key routing (`--route`).
    ConnectionLimits limits;           ///< Each worker's timeouts and connection cap.
    long graceful_timeout_ms = 10000;  ///< QUIT: how long workers may finish before SIGKILL.
    bool drills = false;               ///< /crash and /hang.
};

/// Runs the master until it is stopped; returns the exit code (0, or 1 when workers kept dying at
/// start). Takes ownership of \p listener, which must be non-blocking. \p signals must route
/// SIGCHLD, SIGTERM, SIGINT, SIGQUIT, SIGHUP and SIGUSR1; \p board needs two slots per worker (a
/// HUP starts each replacement before its predecessor has left).
int run_master(Fd listener, ch03::Scoreboard& board, DispatchStats& stats,
               ch01::SignalEvents& signals, const MasterConfig& config);

}  // namespace forklab::ch05
