/// \file
/// \brief /proc readers.
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <sys/socket.h>
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

pid_t connection_holder(const std::vector<pid_t>& candidates, int client_fd) {
    sockaddr_in local{};
    sockaddr_in peer{};
    socklen_t len = sizeof local;
    socklen_t peer_len = sizeof peer;
    if (::getsockname(client_fd, reinterpret_cast<sockaddr*>(&local), &len) == -1 ||
        ::getpeername(client_fd, reinterpret_cast<sockaddr*>(&peer), &peer_len) == -1) {
        return 0;
    }
    // The server end: local port = the server's, remote port = ours. Its inode is 0 while the
    // connection waits in the accept queue, and names a socket once a process accepted it.
    std::istringstream in(slurp("/proc/net/tcp"));
    std::string line;
    std::getline(in, line);  // the header
    std::string socket;
    while (std::getline(in, line)) {
        std::istringstream f(line);
        std::string slot, l, r, state, queues, timer, retransmits, uid, timeout, inode;
        f >> slot >> l >> r >> state >> queues >> timer >> retransmits >> uid >> timeout >> inode;
        auto port = [](const std::string& a) {
            return std::stoi(a.substr(a.find(':') + 1), nullptr, 16);
        };
        if (l.find(':') != std::string::npos && r.find(':') != std::string::npos &&
            port(l) == ntohs(peer.sin_port) && port(r) == ntohs(local.sin_port) && inode != "0") {
            socket = "socket:[" + inode + "]";
        }
    }
    if (socket.empty()) {
        return 0;
    }
    for (pid_t pid : candidates) {
        for (const std::string& target : fd_targets(pid)) {
            if (target == socket) {
                return pid;
            }
        }
    }
    return 0;
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
