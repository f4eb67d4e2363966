/// \file
/// \brief What the bench reads about a server's processes from /proc.
#pragma once

#include <sys/types.h>

#include <vector>

#include "harness/procfs.hpp"

namespace forklab::load {

/// CPU time of a process tree, in seconds.
struct TreeCpu {
    double seconds = 0;  ///< user + sys
};

/// User + sys CPU of \p master, its reaped children (cutime + cstime) and its live children
/// (their own and their reaped children's), in seconds, from /proc/PID/stat in clock ticks.
///
/// The difference of two readings is what the tree spent between them, including children born
/// and reaped in between: a child's whole time moves into the master's cutime/cstime when the
/// master reaps it (Stevens measures the same with getrusage(RUSAGE_CHILDREN)). Zombies count as
/// live children, since the master has not absorbed their time yet. A child reaped during the
/// reading would be missed or counted twice, so the master's cutime/cstime is read before and
/// after the children and the reading is retried (a few times) when it moved. 0 when \p master is
/// gone.
TreeCpu tree_cpu(pid_t master);

/// Live children of a process (zombies excluded), sorted: the reader the tests use too.
using procfs::live_children;

/// Proportional set size of \p pid in KiB (from /proc/PID/smaps_rollup), or -1 when unreadable:
/// each page shared by N processes counts 1/N, so the PSS of all of a server's processes adds up
/// to the memory the server really uses.
long pss_kib(pid_t pid);

}  // namespace forklab::load
