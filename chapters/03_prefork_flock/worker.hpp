/// \file
/// \brief A chapter 03 worker: take the lock, accept one connection, release, serve, repeat.
#pragma once

#include <sys/types.h>

#include <cstddef>

#include "accept_lock.hpp"
#include "forklab/scoreboard.hpp"
#include "forklab/serve.hpp"

namespace forklab::ch03 {

/// What a worker is given at fork. References point into the master's memory, which the child
/// has its own copy of (the scoreboard itself is shared).
struct WorkerContext {
    int listener;        ///< The shared, non-blocking listening socket.
    AcceptLock& lock;    ///< The accept lock (opened again by the worker).
    Scoreboard& board;   ///< The scoreboard.
    std::size_t slot;    ///< This worker's slot.
    pid_t master;        ///< The master's pid, to notice its death.
    long max_requests;   ///< 0: unlimited; else the limit before jitter.
    bool drills;         ///< /crash and /hang enabled.
    ServeLimits limits;  ///< Per-connection limits.
    const char* design;  ///< For /status.
};

/// The worker's whole life. Never returns into the master's code: it is the body given to
/// spawn(), and its return value is the exit code. QUIT or HUP: finish the connection in hand
/// (and any already queued), then exit 0. TERM: die at once (the default action). The master's
/// death: SIGTERM through PR_SET_PDEATHSIG. Exits with exit_fatal_setup if the lock cannot be
/// opened.
int run_worker(const WorkerContext& context);

}  // namespace forklab::ch03
