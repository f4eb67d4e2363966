/// \file
/// \brief /proc readers for the bench.
#include "proc_stats.hpp"

#include <unistd.h>

#include <cstdlib>
#include <optional>
#include <string>

namespace forklab::load {

using procfs::ProcStat;

namespace {

/// The CPU of \p s and of its reaped children: utime + stime + cutime + cstime.
long ticks_of(const ProcStat& s) {
    return s.utime + s.stime + s.cutime + s.cstime;
}

}  // namespace

TreeCpu tree_cpu(pid_t master) {
    static const double tick = static_cast<double>(::sysconf(_SC_CLK_TCK));
    long ticks = 0;
    for (int attempt = 0; attempt < 5; ++attempt) {
        std::optional<ProcStat> before = procfs::proc_stat(master);
        if (!before) {
            return {};
        }
        long children = 0;
        for (const ProcStat& c : procfs::children_of(master)) {
            children += ticks_of(c);
        }
        std::optional<ProcStat> after = procfs::proc_stat(master);
        if (!after) {
            return {};
        }
        ticks = ticks_of(*after) + children;
        if (after->cutime + after->cstime == before->cutime + before->cstime) {
            break;  // nobody was reaped while the children were read: a consistent reading
        }
    }
    return {static_cast<double>(ticks) / tick};
}

long pss_kib(pid_t pid) {
    std::string text = procfs::slurp("/proc/" + std::to_string(pid) + "/smaps_rollup");
    std::size_t at = text.find("\nPss:");
    if (at == std::string::npos) {
        return -1;
    }
    return std::strtol(text.c_str() + at + 5, nullptr, 10);
}

}  // namespace forklab::load
