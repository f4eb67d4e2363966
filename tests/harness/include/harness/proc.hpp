/// \file
/// \brief Looking at processes the way a user can: through /proc.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "harness/procfs.hpp"

namespace forklab::test {

// The shared readers (procfs.hpp), under the names the tests use.
using procfs::all_processes;
using procfs::children_of;
using procfs::live_children;
using procfs::proc_stat;
using procfs::ProcStat;
using procfs::slurp;  // any small file, not only under /proc: "" when it cannot be read

/// True when \p pid exists and is not a zombie.
bool alive(pid_t pid);
/// The children of \p parent that were all alive at one moment: a scan of /proc takes a while,
/// so a child that exits early in the scan and one forked late in it would both be counted by a
/// plain scan although they never ran together. Each child seen is checked again after the
/// scan; those still alive were all alive when the scan ended. May count fewer, never more.
std::vector<pid_t> children_alive_together(pid_t parent);
/// Children of \p parent that are zombies.
std::vector<pid_t> zombie_children(pid_t parent);
/// Processes in process group \p pgid or session \p pgid.
std::vector<ProcStat> group_members(pid_t pgid);
/// Number of open descriptors of \p pid (-1 if unreadable).
int fd_count(pid_t pid);
/// What each descriptor of \p pid points to (readlink of /proc/PID/fd/N).
std::vector<std::string> fd_targets(pid_t pid);
/// The kernel function \p pid sleeps in (/proc/PID/wchan).
std::string wchan(pid_t pid);
/// The current directory of \p pid.
std::string cwd(pid_t pid);
/// A line's value from /proc/PID/status, e.g. "Uid" -> "1000\t1000\t1000\t1000".
std::string status_field(pid_t pid, const std::string& key);
/// A memory line of /proc/PID/status ("VmRSS", "VmHWM": "  123456 kB") in KiB, or -1.
long status_kib(pid_t pid, const std::string& key);
/// The umask of \p pid as a number (from /proc/PID/status), or -1.
int umask_of(pid_t pid);

/// A file mode or umask the way people write it, in octal: 0644, 0027 ("-1" for -1).
std::string octal(long mode);
/// The signals of a mask from /proc/PID/status (SigIgn, SigBlk ...: "0000000000001000") by name,
/// "PIPE" or "HUP PIPE", "none" for none. glibc's own real-time signals 32 and 33 (used for
/// thread cancellation and set*id) are left out unless \p with_libc: a program cannot change
/// their disposition through glibc, so what it inherited there (ninja and other posix_spawn
/// callers leave them ignored) says nothing about the program.
std::string signal_names(const std::string& hex_mask, bool with_libc = false);

/// One line of /proc/locks.
struct LockEntry {
    std::string kind;         ///< FLOCK, POSIX, OFDLCK
    std::string mode;         ///< ADVISORY / MANDATORY
    std::string type;         ///< READ / WRITE
    pid_t pid = 0;            ///< Holder (or waiter) pid.
    unsigned long inode = 0;  ///< Inode of the locked file.
    bool waiting = false;     ///< A "->" line: blocked waiting for the lock.
};
/// The current locks of the system.
std::vector<LockEntry> proc_locks();

}  // namespace forklab::test
