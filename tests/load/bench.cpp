/// \file
/// \brief bench: every chapter under the same load, in one table (ForkLab's Figure 30.1).
///
/// Runs the ceiling (a minimal epoll responder) and every chapter binary found next to it, each on
/// a free port, under the same loads, and prints Markdown tables: requests/s and the share of the
/// ceiling, server CPU per request (master, workers and reaped children), p99 latency, errors,
/// processes, memory per worker. See tests/load/README.md.
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <iostream>
#include <regex>
#include <sstream>
#include <thread>

#include "forklab/cli.hpp"
#include "forklab/error.hpp"
#include "forklab/fd.hpp"
#include "load_engine.hpp"
#include "proc_stats.hpp"

namespace {

using forklab::load::LoadConfig;
using forklab::load::LoadResult;

/// One row: a server the bench starts (or an external one it only loads).
struct Target {
    std::string name;
    std::string binary;  // empty for an external target
    std::vector<std::string> args;
    forklab::Endpoint at;
    pid_t master = -1;
    pid_t launched = -1;
    bool keep_alive = false;  // the design keeps connections open
};

/// One measured cell.
struct Cell {
    bool ran = false;
    double rps = 0;
    double cpu_us = -1;
    double p99_ms = 0;
    long errors = 0;
    std::string error_kinds;
    std::size_t processes = 0;
};

struct Workload {
    std::string title;
    std::string path;
    bool keep_alive;
};

const std::vector<Workload> workloads = {
    {"Tiny response (`GET /`, 13 bytes), one request per connection", "/", false},
    {"Tiny response, keep-alive", "/", true},
    {"Stevens' work (`GET /bytes/4000`), one request per connection", "/bytes/4000", false},
};

std::string dir_of_self() {
    char buf[4096] = {};
    ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
    std::string path(buf, n > 0 ? static_cast<std::size_t>(n) : 0);
    return path.substr(0, path.rfind('/'));
}

/// The chapter binaries next to the bench, sorted: ch01_fork_server, ch02_daemon ...
std::vector<std::string> chapter_binaries(const std::string& dir) {
    std::vector<std::string> names;
    if (DIR* d = ::opendir(dir.c_str())) {
        static const std::regex chapter("^ch[0-9][0-9]_[a-z_]+$");
        while (dirent* e = ::readdir(d)) {
            if (std::regex_match(e->d_name, chapter)) {
                names.emplace_back(e->d_name);
            }
        }
        ::closedir(d);
    }
    std::sort(names.begin(), names.end());
    return names;
}

/// Starts \p t and reads its readiness line. False (with a message) if it does not come.
bool start(Target& t, const std::string& log_path) {
    forklab::Pipe out = forklab::make_pipe();
    pid_t parent = ::getpid();
    t.launched = ::fork();
    if (t.launched == -1) {
        forklab::throw_errno("fork");
    }
    if (t.launched == 0) {
        // If the bench dies, the server is told to stop: nothing outlives a failed run.
        ::prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (::getppid() != parent) {
            ::_exit(1);
        }
        ::dup2(out.write_end.get(), STDOUT_FILENO);
        int log = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        ::dup2(log, STDERR_FILENO);
        std::vector<char*> argv{const_cast<char*>(t.binary.c_str())};
        std::vector<std::string> args = {"--listen", "127.0.0.1:0"};
        args.insert(args.end(), t.args.begin(), t.args.end());
        for (auto& a : args) {
            argv.push_back(a.data());
        }
        argv.push_back(nullptr);
        ::execv(t.binary.c_str(), argv.data());
        ::_exit(127);
    }
    out.write_end.reset();
    std::string line;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (line.find('\n') == std::string::npos && std::chrono::steady_clock::now() < deadline) {
        pollfd p{out.read_end.get(), POLLIN, 0};
        if (::poll(&p, 1, 50) <= 0) {
            continue;
        }
        char buf[256];
        ssize_t n = ::read(out.read_end.get(), buf, sizeof buf);
        if (n <= 0) {
            break;
        }
        line.append(buf, static_cast<std::size_t>(n));
    }
    static const std::regex ready(R"(forklab: listening on (\S+):(\d+) pid (\d+))");
    std::smatch m;
    if (!std::regex_search(line, m, ready)) {
        std::cerr << "[bench] " << t.name << " did not start; see " << log_path << "\n";
        return false;
    }
    t.at = *forklab::parse_endpoint(m[1].str() + ":" + m[2].str());
    t.master = static_cast<pid_t>(std::stol(m[3]));
    return true;
}

/// Stops a server the bench started: TERM, then KILL after 10 s.
void stop(Target& t) {
    if (t.launched <= 0) {
        return;
    }
    ::kill(t.master, SIGTERM);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (::waitpid(t.launched, nullptr, WNOHANG) == 0) {
        if (std::chrono::steady_clock::now() > deadline) {
            std::cerr << "[bench] " << t.name << " ignored SIGTERM: killing it\n";
            ::kill(t.master, SIGKILL);
            ::waitpid(t.launched, nullptr, 0);
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    t.launched = -1;
}

/// Does the server keep a connection open after answering a keep-alive request? Asks the
/// server itself instead of guessing from its name.
bool keeps_alive(const Target& t) {
    forklab::Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(t.at.port);
    ::inet_pton(AF_INET, t.at.host.c_str(), &a.sin_addr);
    std::string raw = "GET / HTTP/1.1\r\nHost: bench\r\n\r\n";
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) == -1 ||
        !forklab::write_all(fd.get(), raw.data(), raw.size())) {
        return false;
    }
    std::string reply;
    char buf[4096];
    pollfd p{fd.get(), POLLIN, 0};
    while (reply.find("\r\n\r\n") == std::string::npos && ::poll(&p, 1, 2000) > 0) {
        ssize_t n = ::read(fd.get(), buf, sizeof buf);
        if (n <= 0) {
            break;
        }
        reply.append(buf, static_cast<std::size_t>(n));
    }
    // HTTP/1.1 keeps a connection open unless the server says otherwise.
    return reply.rfind("HTTP/1.1 200", 0) == 0 &&
           reply.find("\r\nConnection: close\r\n") == std::string::npos;
}

Cell measure(const Target& t, const Workload& w, int concurrency, long duration_ms) {
    LoadConfig config;
    config.target = t.at;
    config.concurrency = concurrency;
    config.path = w.path;
    config.keep_alive = w.keep_alive;
    config.requests = 200;  // warm-up: caches, pools, page faults
    forklab::load::run_load(config);

    config.requests = 0;
    config.duration_ms = duration_ms;
    Cell cell;
    cell.ran = true;
    std::atomic<bool> done{false};
    std::atomic<std::size_t> most{0};
    std::thread sampler;
    if (t.master > 0) {
        sampler = std::thread([&] {
            while (!done) {
                most =
                    std::max<std::size_t>(most, 1 + forklab::load::live_children(t.master).size());
                std::this_thread::sleep_for(std::chrono::milliseconds(100));
            }
        });
    }
    double cpu0 = t.master > 0 ? forklab::load::tree_cpu(t.master).seconds : 0;
    LoadResult r = forklab::load::run_load(config);
    double cpu1 = t.master > 0 ? forklab::load::tree_cpu(t.master).seconds : 0;
    done = true;
    if (sampler.joinable()) {
        sampler.join();
    }
    cell.rps = r.rate();
    cell.cpu_us = t.master > 0 && r.ok > 0 ? (cpu1 - cpu0) * 1e6 / static_cast<double>(r.ok) : -1;
    cell.p99_ms = r.percentile(0.99) / 1000.0;
    cell.errors = r.error_count();
    for (const auto& [kind, n] : r.errors) {
        cell.error_kinds += " " + kind + " " + std::to_string(n);
    }
    cell.processes = most;
    return cell;
}

std::string fixed(double v, int digits) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", digits, v);
    return buf;
}

std::string thousands(double v) {
    std::string digits = std::to_string(static_cast<long>(v + 0.5));
    std::string out;
    for (std::size_t i = 0; i < digits.size(); ++i) {
        if (i > 0 && (digits.size() - i) % 3 == 0) {
            out += ',';
        }
        out += digits[i];
    }
    return out;
}

std::string machine() {
    std::ifstream cpuinfo("/proc/cpuinfo");
    std::string model = "unknown CPU";
    for (std::string line; std::getline(cpuinfo, line);) {
        if (line.rfind("model name", 0) == 0) {
            model = line.substr(line.find(':') + 2);
            break;
        }
    }
    utsname u{};
    ::uname(&u);
    char date[32];
    std::time_t now = std::time(nullptr);
    std::strftime(date, sizeof date, "%Y-%m-%d", std::gmtime(&now));
    return model + ", " + std::to_string(::sysconf(_SC_NPROCESSORS_ONLN)) + " cores, Linux " +
           u.release + ", " + date;
}

}  // namespace

int main(int argc, char** argv) {
    long concurrency = 16;
    long duration_ms = 3000;
    std::string output;
    std::string only;
    std::vector<std::string> externals;
    forklab::Cli cli("bench", "Runs every chapter under the same load and prints the table.");
    cli.option("concurrency", "connections at once (default 16)", concurrency, 1, 4096);
    cli.seconds("duration", "seconds of load per cell (default 3)", duration_ms, 600);
    cli.option("output", "PATH", "also write the tables to PATH (a page of the book)", output);
    cli.option("only", "NAMES", "run only these rows (comma-separated: ceiling,ch01_fork_server)",
               only);
    cli.option(
        "target", "NAME=HOST:PORT", "add a running server as a row (repeatable)",
        [&](const std::string& v) {
            std::size_t eq = v.find('=');
            if (eq == std::string::npos || eq == 0 || !forklab::parse_endpoint(v.substr(eq + 1))) {
                return std::string("expects NAME=HOST:PORT, like nginx=127.0.0.1:80");
            }
            externals.push_back(v);
            return std::string();
        });
    if (auto code = cli.parse(argc, argv)) {
        return *code;
    }
    std::signal(SIGPIPE, SIG_IGN);
    std::string bin = dir_of_self();
    std::vector<Target> targets;
    targets.push_back({"ceiling", bin + "/ceiling", {}, {}, -1, -1, false});
    for (const std::string& name : chapter_binaries(bin)) {
        Target t{name, bin + "/" + name, {}, {}, -1, -1, false};
        if (name.rfind("ch02_", 0) == 0) {
            t.args.push_back("--foreground");
        }
        targets.push_back(t);
    }
    for (const std::string& e : externals) {
        std::size_t eq = e.find('=');
        targets.push_back(
            {e.substr(0, eq), "", {}, *forklab::parse_endpoint(e.substr(eq + 1)), -1, -1, false});
    }
    if (!only.empty()) {
        std::string list = "," + only + ",";
        targets.erase(std::remove_if(targets.begin(), targets.end(),
                                     [&](const Target& t) {
                                         return list.find("," + t.name + ",") == std::string::npos;
                                     }),
                      targets.end());
    }

    char logs[] = "/tmp/forklab-bench-XXXXXX";
    if (::mkdtemp(logs) == nullptr) {
        forklab::throw_errno("mkdtemp");
    }
    bool failed = false;
    std::vector<std::vector<Cell>> cells(targets.size(), std::vector<Cell>(workloads.size()));
    std::vector<long> pss(targets.size(), -1);
    std::vector<std::size_t> idle_processes(targets.size(), 0);
    for (std::size_t i = 0; i < targets.size(); ++i) {
        Target& t = targets[i];
        if (!t.binary.empty() && !start(t, std::string(logs) + "/" + t.name + ".log")) {
            failed = true;
            continue;
        }
        t.keep_alive = keeps_alive(t);
        for (std::size_t w = 0; w < workloads.size(); ++w) {
            if (workloads[w].keep_alive && !t.keep_alive) {
                continue;
            }
            std::cerr << "[bench] " << t.name << ": " << workloads[w].path
                      << (workloads[w].keep_alive ? " keep-alive" : " one per connection") << " ..."
                      << std::flush;
            cells[i][w] = measure(t, workloads[w], static_cast<int>(concurrency), duration_ms);
            std::cerr << " " << thousands(cells[i][w].rps) << " requests/s, " << cells[i][w].errors
                      << " errors\n";
            failed = failed || cells[i][w].errors > 0;
        }
        if (t.master > 0) {
            // Memory at rest: the workers (or, with none alive, the master itself).
            std::vector<pid_t> workers;
            for (int tries = 0; tries < 50; ++tries) {
                workers = forklab::load::live_children(t.master);
                if (workers.size() <= 8) {
                    break;
                }
                std::this_thread::sleep_for(std::chrono::milliseconds(20));
            }
            long sum = 0;
            for (pid_t w : workers) {
                sum += std::max(0L, forklab::load::pss_kib(w));
            }
            idle_processes[i] = 1 + workers.size();
            pss[i] = workers.empty() ? forklab::load::pss_kib(t.master)
                                     : sum / static_cast<long>(workers.size());
        }
        stop(t);
    }

    std::ostringstream md;
    md << "Measured on " << machine() << "; " << concurrency << " concurrent connections, "
       << fixed(static_cast<double>(duration_ms) / 1000.0, 1)
       << " s per cell, the load client on the same machine.\n";
    for (std::size_t w = 0; w < workloads.size(); ++w) {
        md << "\n### " << workloads[w].title << "\n\n"
           << "| design | requests/s | % of ceiling | CPU us/request | p99 ms | errors | processes "
              "|\n|---|---:|---:|---:|---:|---:|---:|\n";
        double ceiling = targets.empty() || targets[0].name != "ceiling" ? 0 : cells[0][w].rps;
        for (std::size_t i = 0; i < targets.size(); ++i) {
            const Cell& c = cells[i][w];
            md << "| " << targets[i].name << " | ";
            if (!c.ran) {
                md << "n/a | | | | | |\n";
                continue;
            }
            md << thousands(c.rps) << " | "
               << (ceiling > 0 ? fixed(100.0 * c.rps / ceiling, 0) + "%" : "-") << " | "
               << (c.cpu_us >= 0 ? fixed(c.cpu_us, 1) : "-") << " | " << fixed(c.p99_ms, 2) << " | "
               << c.errors << c.error_kinds << " | "
               << (c.processes > 0 ? std::to_string(c.processes) : "-") << " |\n";
        }
    }
    md << "\n### Memory at rest, after the load\n\n"
       << "| design | processes | PSS per worker (KiB) |\n|---|---:|---:|\n";
    for (std::size_t i = 0; i < targets.size(); ++i) {
        md << "| " << targets[i].name << " | "
           << (idle_processes[i] > 0 ? std::to_string(idle_processes[i]) : "-") << " | "
           << (pss[i] >= 0 ? std::to_string(pss[i]) : "-") << " |\n";
    }
    md << "\n`n/a`: the design answers `Connection: close`, so it has no keep-alive row. "
          "CPU per request is user + sys of the master, its workers and its reaped children "
          "over the measured load. For ch01 and ch02, whose children live only for a request, "
          "the memory column shows the parent.\n";
    std::cout << md.str();
    if (!output.empty()) {
        std::ofstream page(output);
        page << "# Bench results {#bench_results}\n\n"
             << "The table of the last run of `cmake --workflow --preset bench` (the `bench` "
                "program). Absolute figures depend on the machine; the ratios between rows "
                "of one run are what hold. See \\ref bench for how each column is measured.\n\n"
             << md.str();
        std::cerr << "[bench] wrote " << output << "\n";
    }
    std::string cleanup = std::string("rm -rf ") + logs;
    if (!failed) {
        [[maybe_unused]] int ignored = std::system(cleanup.c_str());
    }
    return failed ? 1 : 0;
}
