/// \file
/// \brief /proc/PID/stat and the process list, read once for the tests and the bench.
#include "harness/procfs.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdlib>

#include "forklab/fd.hpp"

namespace forklab::procfs {

std::string slurp(const std::string& path) {
    Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
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

std::optional<ProcStat> proc_stat(pid_t pid) {
    std::string text = slurp("/proc/" + std::to_string(pid) + "/stat");
    // "pid (comm) state ppid pgrp session tty_nr ...": comm may hold spaces and parentheses, so
    // the fields start after the last ')'.
    std::size_t open = text.find('(');
    std::size_t close = text.rfind(')');
    if (open == std::string::npos || close == std::string::npos || close + 4 > text.size()) {
        return std::nullopt;
    }
    ProcStat s;
    s.pid = pid;
    s.comm = text.substr(open + 1, close - open - 1);
    const char* p = text.c_str() + close + 2;
    s.state = *p++;
    // ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime stime cutime cstime
    long fields[14] = {};
    for (long& f : fields) {
        char* end = nullptr;
        f = std::strtol(p, &end, 10);
        if (end == p) {
            return std::nullopt;
        }
        p = end;
    }
    s.ppid = static_cast<pid_t>(fields[0]);
    s.pgrp = static_cast<pid_t>(fields[1]);
    s.session = static_cast<pid_t>(fields[2]);
    s.tty_nr = static_cast<int>(fields[3]);
    s.utime = fields[10];
    s.stime = fields[11];
    s.cutime = fields[12];
    s.cstime = fields[13];
    return s;
}

std::vector<pid_t> numeric_entries(const std::string& dir) {
    std::vector<pid_t> out;
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr) {
        return out;
    }
    while (dirent* e = ::readdir(d)) {
        char* end = nullptr;
        long v = std::strtol(e->d_name, &end, 10);
        if (end != e->d_name && *end == '\0') {
            out.push_back(static_cast<pid_t>(v));
        }
    }
    ::closedir(d);
    return out;
}

std::vector<ProcStat> all_processes() {
    std::vector<ProcStat> out;
    for (pid_t pid : numeric_entries("/proc")) {
        if (auto s = proc_stat(pid)) {
            out.push_back(*s);
        }
    }
    return out;
}

std::vector<ProcStat> children_of(pid_t parent) {
    std::vector<ProcStat> out;
    for (const ProcStat& s : all_processes()) {
        if (s.ppid == parent) {
            out.push_back(s);
        }
    }
    return out;
}

std::vector<pid_t> live_children(pid_t parent) {
    std::vector<pid_t> out;
    for (const ProcStat& s : children_of(parent)) {
        if (s.state != 'Z') {
            out.push_back(s.pid);
        }
    }
    std::sort(out.begin(), out.end());
    return out;
}

std::vector<pid_t> live_descendants(pid_t root) {
    std::vector<ProcStat> all = all_processes();
    std::vector<pid_t> found{root};
    std::vector<pid_t> live;
    // Breadth first over parent links: a pid joins once its parent is in the tree.
    for (std::size_t i = 0; i < found.size(); ++i) {
        for (const ProcStat& s : all) {
            if (s.ppid == found[i]) {
                found.push_back(s.pid);
                if (s.state != 'Z') {
                    live.push_back(s.pid);
                }
            }
        }
    }
    return live;
}

void kill_descendants(pid_t self) {
    for (;;) {
        for (pid_t pid : live_descendants(self)) {
            ::kill(pid, SIGKILL);
        }
        // Each round reaps one ended child; orphans of the killed reparent here (the caller is a
        // subreaper) and are killed and reaped in later rounds. No children left: done.
        if (::waitpid(-1, nullptr, 0) == -1 && errno == ECHILD) {
            return;
        }
    }
}

}  // namespace forklab::procfs
