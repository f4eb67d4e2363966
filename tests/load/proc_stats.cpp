/// \file
/// \brief /proc readers for the bench.
#include "proc_stats.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "forklab/fd.hpp"

namespace forklab::load {

namespace {

/// The fields of /proc/PID/stat the bench needs.
struct Stat {
    char state = '?';
    pid_t ppid = 0;
    long cpu = 0;           ///< utime + stime, clock ticks
    long children_cpu = 0;  ///< cutime + cstime, clock ticks
};

/// The whole of a small /proc file, or "" when it cannot be read (the process has gone).
std::string slurp(const std::string& path) {
    forklab::Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    std::string text;
    char buf[4096];
    // Bounded: a /proc file of a process is a few KiB and ends with a read of 0.
    for (ssize_t n = 1; fd && n > 0;) {
        n = ::read(fd.get(), buf, sizeof buf);
        if (n > 0) {
            text.append(buf, static_cast<std::size_t>(n));
        } else if (n == -1 && errno != EINTR) {
            return "";  // ESRCH: the process ended while we read
        }
    }
    return text;
}

bool read_stat(pid_t pid, Stat& out) {
    std::string text = slurp("/proc/" + std::to_string(pid) + "/stat");
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so start after the last
    // ')'.
    std::size_t close = text.rfind(')');
    if (close == std::string::npos || close + 4 > text.size()) {
        return false;
    }
    const char* p = text.c_str() + close + 2;
    out.state = *p++;
    long fields[13] = {};  // ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt
                           // utime stime cutime, then cstime below
    for (long& f : fields) {
        char* end = nullptr;
        f = std::strtol(p, &end, 10);
        if (end == p) {
            return false;
        }
        p = end;
    }
    char* end = nullptr;
    long cstime = std::strtol(p, &end, 10);
    if (end == p) {
        return false;
    }
    out.ppid = static_cast<pid_t>(fields[0]);
    out.cpu = fields[10] + fields[11];
    out.children_cpu = fields[12] + cstime;
    return true;
}

std::vector<pid_t> all_pids() {
    std::vector<pid_t> pids;
    if (DIR* d = ::opendir("/proc")) {
        while (dirent* e = ::readdir(d)) {
            char* end = nullptr;
            long v = std::strtol(e->d_name, &end, 10);
            if (end != e->d_name && *end == '\0') {
                pids.push_back(static_cast<pid_t>(v));
            }
        }
        ::closedir(d);
    }
    return pids;
}

}  // namespace

TreeCpu tree_cpu(pid_t master) {
    static const double tick = static_cast<double>(::sysconf(_SC_CLK_TCK));
    long ticks = 0;
    for (int attempt = 0; attempt < 5; ++attempt) {
        Stat before;
        if (!read_stat(master, before)) {
            return {};
        }
        long children = 0;
        for (pid_t pid : all_pids()) {
            Stat c;
            if (read_stat(pid, c) && c.ppid == master) {
                children += c.cpu + c.children_cpu;
            }
        }
        Stat after;
        if (!read_stat(master, after)) {
            return {};
        }
        ticks = after.cpu + after.children_cpu + children;
        if (after.children_cpu == before.children_cpu) {
            break;  // nobody was reaped while the children were read: a consistent reading
        }
    }
    return {static_cast<double>(ticks) / tick};
}

std::vector<pid_t> live_children(pid_t pid) {
    std::vector<pid_t> out;
    for (pid_t p : all_pids()) {
        Stat c;
        if (read_stat(p, c) && c.ppid == pid && c.state != 'Z') {
            out.push_back(p);
        }
    }
    return out;
}

long pss_kib(pid_t pid) {
    std::string text = slurp("/proc/" + std::to_string(pid) + "/smaps_rollup");
    std::size_t at = text.find("\nPss:");
    if (at == std::string::npos) {
        return -1;
    }
    return std::strtol(text.c_str() + at + 5, nullptr, 10);
}

}  // namespace forklab::load
