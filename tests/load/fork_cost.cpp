/// \file
/// \brief fork_cost: what one fork costs, by the size of the parent, beside vfork and posix_spawn.
///
///     fork_cost [--sizes MB[,MB...]] [--budget-ms MS]
///
/// For each size (default 2, 64 and 512 MB) the program allocates that much memory and writes
/// every page of it, so the parent has that many resident, private pages, then times three ways
/// of making a child that ends at once, each followed by waitpid:
///
/// - `fork()` + `_exit(0)`: the kernel copies the parent's page tables and marks every private
///   page copy-on-write; the cost grows with the parent's size;
/// - `vfork()` + `_exit(0)`: the child borrows the parent's memory while the parent waits;
///   nothing is copied;
/// - `posix_spawn()` of this program with `--exit` (a static binary that returns from main at
///   once): glibc's clone(CLONE_VM | CLONE_VFORK), then an exec; nothing of the parent is copied,
///   but the exec and the new program's start are paid.
///
/// Each way is repeated until \p budget-ms (default 250) has passed, at least 5 and at most 2000
/// times, and the median of the timings is printed in microseconds with the lowest in brackets
/// (the least disturbed by other work on the machine), as one Markdown table on stdout. Bounded:
/// about sizes x 3 x budget, plus the time to touch the memory.
#include <spawn.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "forklab/cli.hpp"
#include "forklab/error.hpp"

extern char** environ;

namespace {

using Clock = std::chrono::steady_clock;

/// Waits for \p pid; throws when it did not exit with 0.
void reap(pid_t pid, const char* what) {
    int status = 0;
    while (::waitpid(pid, &status, 0) == -1) {
        if (errno != EINTR) {
            forklab::throw_errno(std::string("waitpid after ") + what);
        }
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        throw std::runtime_error(std::string(what) + ": the child did not exit with 0");
    }
}

/// The timings of one way: the median and the lowest, in microseconds.
struct Timing {
    double median;
    double lowest;
};

/// Times \p once repeatedly for about \p budget.
Timing time_us(const std::function<void()>& once, std::chrono::milliseconds budget) {
    std::vector<double> us;
    auto end = Clock::now() + budget;
    while (us.size() < 2000 && (us.size() < 5 || Clock::now() < end)) {
        auto t0 = Clock::now();
        once();
        us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
    }
    std::sort(us.begin(), us.end());
    return {us[us.size() / 2], us.front()};
}

//! [fork_cost]
void fork_exit_wait() {
    pid_t pid = ::fork();
    if (pid == -1) {
        forklab::throw_errno("fork");
    }
    if (pid == 0) {
        ::_exit(0);
    }
    reap(pid, "fork");
}

void vfork_exit_wait() {
    pid_t pid = ::vfork();
    if (pid == -1) {
        forklab::throw_errno("vfork");
    }
    if (pid == 0) {
        ::_exit(0);  // the only thing a vfork child may do here
    }
    reap(pid, "vfork");
}

void spawn_exit_wait(const std::string& self) {
    char exit_flag[] = "--exit";
    std::string path = self;
    char* argv[] = {path.data(), exit_flag, nullptr};
    pid_t pid = -1;
    if (int e = ::posix_spawn(&pid, path.c_str(), nullptr, nullptr, argv, environ); e != 0) {
        forklab::throw_errno("posix_spawn " + self, e);
    }
    reap(pid, "posix_spawn");
}
//! [fork_cost]

std::string us_text(double us) {
    char buf[32];
    std::snprintf(buf, sizeof buf, us < 100 ? "%.1f" : "%.0f", us);
    return buf;
}

/// "450 (410)": the median, and the lowest in brackets.
std::string cell(const Timing& t) {
    return us_text(t.median) + " (" + us_text(t.lowest) + ")";
}

}  // namespace

int main(int argc, char** argv) {
    if (argc == 2 && std::strcmp(argv[1], "--exit") == 0) {
        return 0;  // the posix_spawn child: start and end, nothing else
    }
    std::vector<long> sizes;
    long budget_ms = 250;
    forklab::Cli cli("fork_cost", "Times fork, vfork and posix_spawn by the parent's size.");
    cli.option("sizes", "MB[,MB...]", "touched memory of the parent (default 2,64,512)",
               [&](const std::string& text) {
                   sizes.clear();
                   std::stringstream list(text);
                   for (std::string item; std::getline(list, item, ',');) {
                       char* end = nullptr;
                       long mb = std::strtol(item.c_str(), &end, 10);
                       if (item.empty() || *end != '\0' || mb < 1 || mb > 4096) {
                           return std::string("expects MB from 1 to 4096, comma-separated");
                       }
                       sizes.push_back(mb);
                   }
                   return sizes.empty() ? std::string("expects at least one size") : "";
               });
    cli.option("budget-ms", "time spent on each way and size (default 250)", budget_ms, 1, 10000);
    if (auto code = cli.parse(argc, argv)) {
        return *code;
    }
    if (sizes.empty()) {
        sizes = {2, 64, 512};
    }
    try {
        char self[4096] = {};
        ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
        if (n <= 0) {
            forklab::throw_errno("readlink /proc/self/exe");
        }
        std::chrono::milliseconds budget(budget_ms);
        std::cout << "| parent's touched memory | fork + _exit + wait (us) | "
                     "vfork + _exit + wait (us) | posix_spawn + exec + exit + wait (us) |\n"
                  << "|---:|---:|---:|---:|\n";
        for (long mb : sizes) {
            std::size_t bytes = static_cast<std::size_t>(mb) << 20;
            void* p =
                ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (p == MAP_FAILED) {
                forklab::throw_errno("mmap " + std::to_string(mb) + " MB");
            }
            std::memset(p, 1, bytes);  // every page resident and private
            Timing f = time_us(fork_exit_wait, budget);
            Timing v = time_us(vfork_exit_wait, budget);
            Timing s = time_us([&] { spawn_exit_wait(self); }, budget);
            std::cout << "| " << mb << " MB | " << cell(f) << " | " << cell(v) << " | " << cell(s)
                      << " |\n"
                      << std::flush;
            ::munmap(p, bytes);
        }
        return 0;
    } catch (const std::exception& e) {
        std::cerr << "fork_cost: " << e.what() << "\n";
        return 1;
    }
}
