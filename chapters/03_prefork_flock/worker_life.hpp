/// \file
/// \brief A pool worker's life: dying with its master, and retiring after a jittered count.
#pragma once

#include <sys/types.h>

namespace forklab::ch03 {

/// The exit code of a worker whose setup failed in a way that respawning cannot fix.
inline constexpr int exit_fatal_setup = 3;

/// Asks the kernel to send SIGTERM to this process when its parent dies (PR_SET_PDEATHSIG), then
/// checks that the parent is still \p master: it may have died before the request was made.
/// Returns false when the master is already gone (the caller exits). Call it first in a worker.
bool die_with_master(pid_t master);

/// How many connections a worker serves before it retires: \p max_requests less a random jitter of
/// up to half of it, so that workers started together do not all retire together. 0 stays 0
/// (never retire).
long jittered_limit(long max_requests);

}  // namespace forklab::ch03
