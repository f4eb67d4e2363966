/// \file
/// \brief /proc readers for the bench.
#include "proc_stats.hpp"

#include "forklab/fd.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <sstream>
#include <string>

namespace forklab::load {

namespace {

struct Stat {
    char state = '?';
    pid_t ppid = 0;
    double cpu = 0;           // utime + stime
    double children_cpu = 0;  // cutime + cstime
};

/// The whole of a small /proc file, or "" when the process has gone (read fails with ESRCH).
std::string slurp(const std::string& path) {
    forklab::Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    std::string text;
    char buf[4096];
    ssize_t n = 0;
    while (fd && (n = ::read(fd.get(), buf, sizeof buf)) > 0) {
        text.append(buf, static_cast<std::size_t>(n));
    }
    return n < 0 ? std::string() : text;
}

bool read_stat(pid_t pid, Stat& out) {
    std::string text = slurp("/proc/" + std::to_string(pid) + "/stat");
    std::size_t close = text.rfind(')');
    if (close == std::string::npos) {
        return false;
    }
    std::istringstream fields(text.substr(close + 2));
    // Fields from 3 on: state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt
    // utime stime cutime cstime
    std::string skip;
    long utime = 0;
    long stime = 0;
    long cutime = 0;
    long cstime = 0;
    fields >> out.state >> out.ppid;
    for (int i = 0; i < 9; ++i) {
        fields >> skip;
    }
    fields >> utime >> stime >> cutime >> cstime;
    if (!fields) {
        return false;
    }
    static const double tick = static_cast<double>(::sysconf(_SC_CLK_TCK));
    out.cpu = static_cast<double>(utime + stime) / tick;
    out.children_cpu = static_cast<double>(cutime + cstime) / tick;
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
    TreeCpu total;
    Stat s;
    if (read_stat(master, s)) {
        total.seconds += s.cpu + s.children_cpu;
    }
    for (pid_t pid : all_pids()) {
        Stat c;
        if (read_stat(pid, c) && c.ppid == master) {
            total.seconds += c.cpu + c.children_cpu;  // zombies too: not yet in the master's
        }
    }
    return total;
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
    std::istringstream in(slurp("/proc/" + std::to_string(pid) + "/smaps_rollup"));
    for (std::string line; std::getline(in, line);) {
        if (line.rfind("Pss:", 0) == 0) {
            return std::strtol(line.c_str() + 4, nullptr, 10);
        }
    }
    return -1;
}

}  // namespace forklab::load
