/// \file
/// \brief The /proc readers that the tests and the bench share: a process's stat, and its
/// children found by parent pid. No GoogleTest here: the bench and ramp tools link it too.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

namespace forklab::procfs {

/// Fields of /proc/PID/stat.
struct ProcStat {
    pid_t pid = 0;      ///< The process.
    char state = '?';   ///< R, S, D, Z, T ...
    pid_t ppid = 0;     ///< Parent.
    pid_t pgrp = 0;     ///< Process group.
    pid_t session = 0;  ///< Session.
    int tty_nr = 0;     ///< Controlling terminal (0: none).
    long utime = 0;     ///< User CPU, clock ticks.
    long stime = 0;     ///< System CPU, clock ticks.
    long cutime = 0;    ///< User CPU of its reaped children, clock ticks.
    long cstime = 0;    ///< System CPU of its reaped children, clock ticks.
    std::string comm;   ///< Command name.
};

/// The whole of a small file such as /proc/PID/status, or "" when it cannot be read (for a
/// process that has gone, say).
std::string slurp(const std::string& path);
/// The stat of \p pid, or nothing when it does not exist (or ended while it was read).
std::optional<ProcStat> proc_stat(pid_t pid);
/// The names of \p dir that are numbers: the pids in /proc, the descriptors in /proc/PID/fd.
std::vector<pid_t> numeric_entries(const std::string& dir);
/// Every process on the machine (that /proc lets us see).
std::vector<ProcStat> all_processes();
/// Processes whose parent is \p parent (zombies included).
std::vector<ProcStat> children_of(pid_t parent);
/// Children of \p parent that are not zombies (a master's live workers), sorted by pid.
std::vector<pid_t> live_children(pid_t parent);

/// Every process below \p root in the tree of parent links that is not a zombie (not \p root).
std::vector<pid_t> live_descendants(pid_t root);
/// Kills (SIGKILL) every descendant of the calling process \p self and reaps its children until
/// none is left. Meant for a child subreaper (PR_SET_CHILD_SUBREAPER), to which the orphans of
/// what it kills come back: then nothing below it survives, daemons (setsid, double fork)
/// included. Blocks until the last child is reaped.
void kill_descendants(pid_t self);

}  // namespace forklab::procfs
