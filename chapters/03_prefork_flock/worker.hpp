/// \file
/// \brief A chapter 03 worker: take the lock, accept one connection, release, serve, repeat.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <functional>

#include "accept_lock.hpp"
#include "forklab/serve.hpp"
#include "scoreboard.hpp"

namespace forklab::ch03 {

/// What a worker is given at fork. References point into the master's memory, which the child
/// has its own copy of (the scoreboard itself is shared).
struct WorkerContext {
    int listener;         ///< The shared, non-blocking listening socket.
    AcceptLock& lock;     ///< The accept lock (opened again by the worker).
    Scoreboard& board;    ///< The scoreboard.
    std::size_t slot;     ///< This worker's slot, prepared by the master (state starting).
    pid_t master;         ///< The master's pid, to notice its death.
    long max_requests;    ///< 0: unlimited; else the limit before jitter.
    bool drills;          ///< /crash and /hang enabled.
    bool crash_at_start;  ///< Drill: abort before the accept loop (a crash loop).
    ServeLimits limits;   ///< Per-connection limits.
    const char* design;   ///< For /status.
    //! [on_change]
    /// Called in the worker after every change of its slot's state, with the slot (empty: no
    /// call). Chapter 04 reports the changes to its master through it.
    std::function<void(const Slot&)> on_change{};
    //! [on_change]
};

/// The worker's whole life: the body given to spawn(), whose return value is the exit code.
///
/// Signals (the master forks the worker with SIGQUIT, SIGHUP and SIGUSR1 held, see BlockedSignals,
/// and the worker releases them once its handlers are in place; the master repeats a stop signal
/// until the worker is gone):
/// - SIGHUP: finish the connection in hand, then exit 0 (replaced by a new worker).
/// - SIGQUIT: the same, then serve what is already queued on the listener, then exit 0.
/// - SIGTERM: die at once (the default action); also what PR_SET_PDEATHSIG sends when the master
///   dies.
/// - SIGUSR1: reopen the log.
///
/// Returns 0 after a stop or after max_requests (less the jitter) connections; exit_fatal_setup
/// when the lock file cannot be opened or the listener is broken (respawning cannot fix either).
int run_worker(const WorkerContext& context);

}  // namespace forklab::ch03
