/// \file
/// \brief The fork-per-connection server of chapter 01, which chapter 02 runs as a daemon.
#pragma once

#include "forklab/fd.hpp"
#include "forklab/serve.hpp"
#include "signals.hpp"

namespace forklab::ch01 {

/// Settings of run_fork_server().
struct ForkServerConfig {
    long max_children = 64;            ///< Live children at most; at the cap, accepting pauses.
    long graceful_timeout_ms = 10000;  ///< How long a stop waits for children before SIGKILL.
    bool term_is_graceful = true;      ///< TERM/INT stop gracefully (ch01) or fast (ch02).
    bool drills = false;               ///< Enables /crash and /hang in the children.
    ServeLimits limits;                ///< Per-connection limits.
};

/// Accepts connections on \p listener and serves each in its own child until a stop signal.
///
/// \p signals must route SIGCHLD, SIGTERM, SIGINT, SIGQUIT and SIGUSR1. The parent closes its copy
/// of each connection; the child closes the listener. Children are reaped with reap_children()
/// on every SIGCHLD event. QUIT (and TERM/INT when term_is_graceful) stops gracefully: queued
/// connections are still served, then the parent waits for children up to graceful_timeout_ms and
/// kills what is left. A fast stop sends SIGTERM to the children at once. USR1 reopens the log.
/// Returns the process exit code (0 after a stop).
int run_fork_server(Fd listener, SignalEvents& signals, const ForkServerConfig& config);

}  // namespace forklab::ch01
