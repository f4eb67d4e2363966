/// \file
/// \brief A chapter 04 worker: accept, serve, and tell the master about every change of state.
#pragma once

#include <sys/types.h>

#include <cstddef>

#include "03_prefork_flock/scoreboard.hpp"
#include "forklab/serve.hpp"

namespace forklab::ch04 {

/// What a worker is given at fork.
struct WorkerContext {
    int listener;             ///< The shared, blocking listening socket.
    int report;               ///< The write end of the status pipe.
    ch03::Scoreboard& board;  ///< The scoreboard (for /status).
    std::size_t slot;         ///< This worker's slot.
    pid_t master;             ///< The master, to notice its death.
    long max_requests;        ///< 0: unlimited; else the limit before jitter.
    long heartbeat_ms;        ///< Heartbeat interval.
    bool drills;              ///< /crash and /hang.
    bool fail_at_start;       ///< Drill: exit at once, as a worker that cannot start would.
    ServeLimits limits;       ///< Per connection.
};

/// The worker's whole life (the body given to spawn()). Reports idle, busy and exiting over the
/// pipe, and a heartbeat every heartbeat_ms while idle. QUIT (retire or graceful stop) and HUP:
/// finish the connection in hand, then exit 0. TERM: die at once.
int run_worker(const WorkerContext& context);

}  // namespace forklab::ch04
