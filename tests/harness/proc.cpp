/// \file
/// \brief /proc readers.
#include <dirent.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>

#include "harness/proc.hpp"

namespace forklab::test {

using procfs::numeric_entries;
using procfs::slurp;

bool alive(pid_t pid) {
    auto s = proc_stat(pid);
    return s && s->state != 'Z' && s->state != 'X';
}

std::vector<pid_t> children_alive_together(pid_t parent) {
    std::vector<pid_t> seen = live_children(parent);
    std::vector<pid_t> together;
    for (pid_t pid : seen) {
        if (alive(pid)) {
            together.push_back(pid);
        }
    }
    return together;
}

std::vector<pid_t> zombie_children(pid_t parent) {
    std::vector<pid_t> out;
    for (const ProcStat& s : children_of(parent)) {
        if (s.state == 'Z') {
            out.push_back(s.pid);
        }
    }
    return out;
}

std::vector<ProcStat> group_members(pid_t pgid) {
    std::vector<ProcStat> out;
    for (const ProcStat& s : all_processes()) {
        if (s.pgrp == pgid || s.session == pgid) {
            out.push_back(s);
        }
    }
    return out;
}

int fd_count(pid_t pid) {
    std::string dir = "/proc/" + std::to_string(pid) + "/fd";
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr) {
        return -1;
    }
    int n = 0;
    while (dirent* e = ::readdir(d)) {
        if (e->d_name[0] != '.') {
            ++n;
        }
    }
    ::closedir(d);
    return n;
}

std::vector<std::string> fd_targets(pid_t pid) {
    std::vector<std::string> out;
    std::string dir = "/proc/" + std::to_string(pid) + "/fd/";
    for (pid_t fd : numeric_entries(dir)) {
        char buf[4096];
        ssize_t n = ::readlink((dir + std::to_string(fd)).c_str(), buf, sizeof buf - 1);
        if (n > 0) {
            out.emplace_back(buf, static_cast<std::size_t>(n));
        }
    }
    return out;
}

std::string wchan(pid_t pid) {
    return slurp("/proc/" + std::to_string(pid) + "/wchan");
}

std::string cwd(pid_t pid) {
    char buf[4096];
    ssize_t n = ::readlink(("/proc/" + std::to_string(pid) + "/cwd").c_str(), buf, sizeof buf - 1);
    return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
}

std::string status_field(pid_t pid, const std::string& key) {
    std::istringstream in(slurp("/proc/" + std::to_string(pid) + "/status"));
    for (std::string line; std::getline(in, line);) {
        if (line.rfind(key + ":", 0) == 0) {
            std::string value = line.substr(key.size() + 1);
            std::size_t first = value.find_first_not_of(" \t");
            return first == std::string::npos ? std::string() : value.substr(first);
        }
    }
    return {};
}

long status_kib(pid_t pid, const std::string& key) {
    std::string value = status_field(pid, key);
    return value.empty() ? -1 : std::strtol(value.c_str(), nullptr, 10);
}

int umask_of(pid_t pid) {
    std::string text = status_field(pid, "Umask");
    return text.empty() ? -1 : static_cast<int>(std::strtol(text.c_str(), nullptr, 8));
}

std::string octal(long mode) {
    if (mode < 0) {
        return "-1";
    }
    char text[24];
    std::snprintf(text, sizeof text, "0%03lo", mode);
    return text;
}

std::string signal_names(const std::string& hex_mask, bool with_libc) {
    unsigned long long mask = std::strtoull(hex_mask.c_str(), nullptr, 16);
    std::string names;
    for (int sig = 1; sig <= 64; ++sig) {
        if ((mask & (1ULL << (sig - 1))) == 0) {
            continue;
        }
        if (sig >= 32 && sig < SIGRTMIN && !with_libc) {
            continue;  // glibc's internal signals
        }
        const char* abbrev = sig < SIGRTMIN ? ::sigabbrev_np(sig) : nullptr;
        names += (names.empty() ? "" : " ") +
                 (abbrev != nullptr ? std::string(abbrev)
                                    : (sig < SIGRTMIN ? "SIG" : "RTMIN+") +
                                          std::to_string(sig < SIGRTMIN ? sig : sig - SIGRTMIN));
    }
    return names.empty() ? "none" : names;
}

std::vector<LockEntry> proc_locks() {
    std::vector<LockEntry> out;
    std::istringstream in(slurp("/proc/locks"));
    // "1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF" or "1: -> FLOCK ADVISORY WRITE 1235 ..."
    for (std::string line; std::getline(in, line);) {
        std::istringstream words(line);
        std::string id;
        LockEntry e;
        words >> id >> e.kind;
        if (e.kind == "->") {
            e.waiting = true;
            words >> e.kind;
        }
        std::string dev_inode;
        words >> e.mode >> e.type >> e.pid >> dev_inode;
        std::size_t colon = dev_inode.rfind(':');
        if (!words || colon == std::string::npos) {
            continue;
        }
        e.inode = std::strtoul(dev_inode.c_str() + colon + 1, nullptr, 10);
        out.push_back(e);
    }
    return out;
}

}  // namespace forklab::test
