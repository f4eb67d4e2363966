/// \file
/// \brief What the bench reads about a server's processes from /proc.
#pragma once

#include <sys/types.h>

#include <vector>

namespace forklab::load {

/// CPU time of a process tree, in seconds.
struct TreeCpu {
    double seconds = 0;  ///< user + sys
};

/// User + sys CPU of \p master, its reaped children (cutime/cstime) and its live children, in
/// seconds. The difference of two readings is what the tree spent between them, including
/// children that were born and reaped in between: their time has moved into the master's
/// cutime/cstime by then (Stevens measures the same with getrusage(RUSAGE_CHILDREN)).
TreeCpu tree_cpu(pid_t master);

/// Live children of \p pid (zombies excluded).
std::vector<pid_t> live_children(pid_t pid);

/// Proportional set size of \p pid in KiB (from /proc/PID/smaps_rollup), or -1.
long pss_kib(pid_t pid);

}  // namespace forklab::load
