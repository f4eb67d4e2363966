/// \file
/// \brief Chapter 05's command line and start-up: what its main does, and chapter 06's too.
#pragma once

#include "forklab/cli.hpp"
#include "master.hpp"

namespace forklab::ch05 {

/// Adds chapter 05's flags to \p cli (`--workers`, `--keepalive-timeout`, `--max-connections`),
/// writing into \p config; sets the default of `--workers`, one per core.
void add_master_options(Cli& cli, MasterConfig& config);

/// Starts the server and runs its master until it stops; returns the exit code. Takes the common
/// flags from \p options into \p config, keeps the connection cap below the descriptor limit,
/// then: SIGPIPE ignored, the log, the signal pipe, the listener, the scoreboard and the shared
/// counts (all before the first fork), the readiness line, the master. A start-up error is printed
/// on stderr after \p program and gives exit code 1.
int start_master(const char* program, const ServerOptions& options, MasterConfig& config);

}  // namespace forklab::ch05
