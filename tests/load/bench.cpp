/// \file
/// \brief bench: every server design under the same loads, in one set of tables (ForkLab's
/// Figure 30.1, after Stevens' UNP ch. 30).
///
///     bench [--rounds N] [--duration SECONDS] [--concurrency N] [--threads N]
///           [--only NAME[,NAME...]] [--peer NAME=HOST:PORT]... [--output PATH] [--chart PATH]
///           [--no-fork-cost]
///
/// Starts the ceiling, the fork floor and every chapter binary found next to itself (`chNN_*`,
/// sorted), one at a time, each on a free port in its own process group, puts the same loads on
/// each with the load client's engine, and prints Markdown tables on stdout (progress on stderr).
/// It does so in rounds, every row once per round, and shows each cell's median round with the
/// range of the rounds: noise on a shared machine lasts seconds, and rounds spread each row over
/// the whole run. Then it runs fork_cost (what one fork costs by the parent's size) and prints its
/// table too. Builds nothing.
/// Exit code: 0 when every server started, served every request and stopped cleanly; 1 otherwise
/// (the tables are printed all the same); 2 for a usage error. See tests/load/README.md.
#include <dirent.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <optional>

#include "01_fork_server/signals.hpp"
#include "bench_chart.hpp"
#include "bench_measure.hpp"
#include "bench_server.hpp"
#include "bench_table.hpp"
#include "forklab/cli.hpp"
#include "forklab/error.hpp"
#include "load_engine.hpp"

namespace {

using namespace forklab::load;

const std::vector<Workload> workloads = {
    {"Tiny response (`GET /`, 13 bytes), one request per connection", "/", false},
    {"Tiny response (`GET /`), keep-alive", "/", true},
    {"Stevens' work (`GET /bytes/4000`), one request per connection", "/bytes/4000", false},
};

/// The bench's settings: the load of every cell (stop_fd is the signal pipe, readable after
/// SIGINT, SIGTERM or SIGHUP).
using Options = CellLoad;

/// A row to measure: a binary the bench starts, or a server already running elsewhere.
struct Target {
    std::string name;
    std::string binary;  // empty for an external server
    std::vector<std::string> args;
    forklab::Endpoint external;
};

std::string dir_of_self() {
    char buf[4096] = {};
    ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n <= 0) {
        forklab::throw_errno("readlink /proc/self/exe");
    }
    std::string path(buf, static_cast<std::size_t>(n));
    return path.substr(0, path.rfind('/'));
}

/// The executables named `chNN_*` in \p dir, sorted: ch01_fork_server, ch02_daemon ...
std::vector<std::string> chapter_binaries(const std::string& dir) {
    std::vector<std::string> names;
    if (DIR* d = ::opendir(dir.c_str())) {
        while (dirent* e = ::readdir(d)) {
            std::string name = e->d_name;
            std::string path = dir + "/" + name;
            struct stat st {};
            if (name.size() > 5 && name.rfind("ch", 0) == 0 &&
                std::isdigit(static_cast<unsigned char>(name[2])) != 0 &&
                std::isdigit(static_cast<unsigned char>(name[3])) != 0 && name[4] == '_' &&
                ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
                ::access(path.c_str(), X_OK) == 0) {
                names.push_back(name);
            }
        }
        ::closedir(d);
    }
    std::sort(names.begin(), names.end());
    return names;
}

/// The flags a row's binary needs beyond `--listen 127.0.0.1:0`: the one place to add them when a
/// new chapter needs some (chapters are found by name, chapter_binaries()).
std::vector<std::string> extra_args(const std::string& name) {
    if (name.rfind("ch02_", 0) == 0) {
        return {"--foreground"};  // the daemon stays the bench's child
    }
    if (name.rfind("ch06_", 0) == 0) {
        // Routing on: /bytes/4000 carries the key "bytes", which one worker owns, so the others
        // hand its connections back; `GET /` carries no key and is not routed.
        return {"--route", "path"};
    }
    return {};
}

/// fork_cost's table with a heading and how to read it; a note instead when it cannot run.
std::string fork_cost_section(const std::string& bin) {
    std::string table;
    std::string error;
    std::string text = "### What a fork costs\n\n";
    if (::access((bin + "/fork_cost").c_str(), X_OK) != 0) {
        return text + "Not measured: no fork_cost next to the bench.\n\n";
    }
    std::cerr << "[bench] fork_cost: fork, vfork and posix_spawn by the parent's size ..."
              << std::flush;
    bool ok = run_to_end({bin + "/fork_cost"}, std::chrono::seconds(60), table, error);
    std::cerr << (ok ? " done\n" : " failed: " + error + "\n");
    if (!ok) {
        return text + "Not measured: fork_cost " + error + ".\n\n";
    }
    return text +
           "Making a child that ends at once, then waiting for it, with the parent holding this "
           "much written memory (`tests/load/fork_cost.cpp`, the median of repeated runs, the "
           "lowest in brackets). fork "
           "copies the parent's page tables and marks its pages copy-on-write, so its cost grows "
           "with the parent; vfork lends the child the parent's memory and copies nothing; "
           "posix_spawn (glibc: clone with CLONE_VM | CLONE_VFORK, then exec of a static program "
           "that exits at once) copies nothing either but pays the exec.\n\n" +
           table + "\n";
}

/// Writes \p text to \p path. False (with a message on stderr) when it cannot.
bool write_file(const std::string& path, const std::string& text) {
    std::ofstream file(path);
    file << text;
    file.close();
    if (!file) {
        std::cerr << "bench: cannot write " << path << "\n";
        return false;
    }
    std::cerr << "[bench] wrote " << path << "\n";
    return true;
}

/// True once SIGINT, SIGTERM or SIGHUP has arrived (the signal pipe is readable).
bool stop_requested(int stop_fd) {
    pollfd p{stop_fd, POLLIN, 0};
    return ::poll(&p, 1, 0) > 0;
}

/// Runs every workload on one row's server. Returns false when something failed.
bool run_row(const Target& t, Row& row, const Options& o, const std::string& logs) {
    row.cells.assign(workloads.size(), Cell{});
    std::optional<BenchServer> server;
    forklab::Endpoint at = t.external;
    pid_t master = -1;
    if (!t.binary.empty()) {
        server.emplace(t.binary, t.args, logs + "/" + t.name + ".log");
        if (!server->start()) {
            row.problem =
                "did not start: " + server->error() + " (log: " + server->log_path() + ")";
            std::cerr << "[bench] " << t.name << " " << row.problem << "\n";
            return false;
        }
        at = server->endpoint();
        master = server->master();
    }
    bool keep_alive = keeps_alive(t.name, at);
    bool ok = true;
    for (std::size_t w = 0; w < workloads.size() && !stop_requested(o.stop_fd); ++w) {
        if (workloads[w].keep_alive && !keep_alive) {
            row.cells[w].status = Cell::Status::no_keep_alive;
            continue;
        }
        std::cerr << "[bench] " << t.name << ": GET " << workloads[w].path
                  << (workloads[w].keep_alive ? ", keep-alive" : ", one request per connection")
                  << " ..." << std::flush;
        row.cells[w] = measure_cell(at, master, workloads[w], o);
        const Cell& c = row.cells[w];
        std::cerr << " " << with_thousands(c.rps) << " requests/s, p99 " << c.p99_ms << " ms, "
                  << c.errors << " errors" << (c.errors > 0 ? " (" + c.error_kinds + ")" : "")
                  << "\n";
        ok = ok && c.errors == 0;
    }
    if (master > 0) {
        measure_rest(master, row);
    }
    if (server && !server->stop()) {
        row.problem = server->error() + " (log: " + server->log_path() + ")";
        std::cerr << "[bench] " << t.name << ": " << row.problem << "\n";
        ok = false;
    }
    if (row.problem.empty() && !ok) {
        row.problem = "requests failed (see the errors column)";
    }
    return ok;
}

/// \p ms as seconds with one decimal: "5.0".
std::string seconds_text(long ms) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f", static_cast<double>(ms) / 1000.0);
    return buf;
}

/// Removes the bench's log folder (it holds only the servers' logs).
void remove_logs(const std::string& dir, const std::vector<Target>& targets) {
    for (const Target& t : targets) {
        (void)::unlink((dir + "/" + t.name + ".log").c_str());  // ENOENT for external rows
    }
    (void)::rmdir(dir.c_str());  // ENOTEMPTY if a server wrote more there: then it stays
}

}  // namespace

int main(int argc, char** argv) {
    Options o;
    o.threads = default_threads();
    long concurrency = o.concurrency;
    long threads = o.threads;
    std::string output;
    std::string chart;
    bool no_fork_cost = false;
    std::string only;
    std::vector<Target> externals;
    forklab::Cli cli("bench",
                     "Runs every server design under the same loads and prints the table.");
    long rounds = 5;  // three let two noisy rounds of one row (seen: 25-38 % apart) set its median
    cli.option("rounds",
               "every row measured this many times, rows taking turns; the table shows "
               "each cell's median (default 5)",
               rounds, 1, 20);
    cli.option("duration", "SECONDS", "seconds of load per cell and round (default 2)",
               [&](const std::string& text) {
                   char* end = nullptr;
                   double s = std::strtod(text.c_str(), &end);
                   if (end == text.c_str() || *end != '\0' || !(s >= 0.1 && s <= 600)) {
                       return std::string("expects seconds from 0.1 to 600");
                   }
                   o.duration_ms = static_cast<long>(s * 1000);
                   return std::string();
               });
    cli.option("concurrency", "connections at once, for every cell (default 16)", concurrency, 1,
               4096);
    cli.option("threads", "the load client's event loops (default: one per core, at most 4)",
               threads, 1, 64);
    cli.option("only", "NAMES", "run only these rows, comma-separated (ceiling,ch01_fork_server)",
               only);
    cli.option("peer", "NAME=HOST:PORT",
               "add a server you already run (nginx, Apache) as a row (repeatable)",
               [&](const std::string& v) {
                   std::size_t eq = v.find('=');
                   auto at = eq == std::string::npos ? std::nullopt
                                                     : forklab::parse_endpoint(v.substr(eq + 1));
                   if (eq == 0 || !at || at->port == 0 || v.find_first_of("|, ") < eq) {
                       return std::string("expects NAME=HOST:PORT, like nginx=127.0.0.1:80");
                   }
                   externals.push_back({v.substr(0, eq), "", {}, *at});
                   return std::string();
               });
    cli.option("output", "PATH", "also write the tables to PATH, a page of the book", output);
    cli.option("chart", "PATH", "also draw the tables as an SVG bar chart at PATH", chart);
    cli.flag("no-fork-cost", "skip the table of what a fork costs", no_fork_cost);
    if (auto code = cli.parse(argc, argv)) {
        return *code;
    }
    o.concurrency = static_cast<int>(concurrency);
    o.threads = static_cast<int>(threads);

    try {
        forklab::ch01::ignore_sigpipe();
        // Orphans of a server (workers whose master died) come to the bench, which reaps them.
        if (::prctl(PR_SET_CHILD_SUBREAPER, 1) == -1) {
            forklab::throw_errno("prctl PR_SET_CHILD_SUBREAPER");
        }
        forklab::ch01::SignalEvents signals{SIGINT, SIGTERM, SIGHUP};
        o.stop_fd = signals.fd();

        std::string bin = dir_of_self();
        // The reference rows first: the most this machine does, the least a fork per connection
        // costs. Then every chapter found next to the bench, then the peers.
        std::vector<Target> targets = {{"ceiling", bin + "/ceiling", {}, {}},
                                       {"fork_floor", bin + "/fork_floor", {}, {}}};
        for (const std::string& name : chapter_binaries(bin)) {
            targets.push_back({name, bin + "/" + name, extra_args(name), {}});
        }
        targets.insert(targets.end(), externals.begin(), externals.end());
        if (!only.empty()) {
            std::string wanted = "," + only + ",";
            std::vector<Target> chosen;
            for (const Target& t : targets) {
                if (wanted.find("," + t.name + ",") != std::string::npos) {
                    chosen.push_back(t);
                    wanted.erase(wanted.find("," + t.name + ","), t.name.size() + 1);
                }
            }
            if (wanted != ",") {
                std::cerr << "bench: --only names no row: '" << wanted.substr(1, wanted.size() - 2)
                          << "'; rows here: ";
                for (const Target& t : targets) {
                    std::cerr << t.name << " ";
                }
                std::cerr << "\n\n" << cli.usage();
                return 2;
            }
            targets = chosen;
        }

        const char* tmp = std::getenv("TMPDIR");
        std::string logs =
            std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/forklab-bench-XXXXXX";
        if (::mkdtemp(logs.data()) == nullptr) {
            forklab::throw_errno("mkdtemp " + logs);
        }

        bool failed = false;
        std::vector<std::vector<Row>> measured(targets.size());  // per target, one per round
        for (long round = 1; round <= rounds; ++round) {
            if (rounds > 1) {
                std::cerr << "[bench] round " << round << " of " << rounds << "\n";
            }
            for (std::size_t i = 0; i < targets.size(); ++i) {
                Row row;
                row.name = targets[i].name;
                if (stop_requested(o.stop_fd)) {
                    row.cells.assign(workloads.size(), Cell{});
                } else {
                    failed = !run_row(targets[i], row, o, logs) || failed;
                }
                measured[i].push_back(row);
            }
        }
        std::vector<Row> rows;
        for (const std::vector<Row>& r : measured) {
            rows.push_back(median_of(r));
        }
        bool interrupted = stop_requested(o.stop_fd);
        if (interrupted) {
            std::cerr << "[bench] stopped by a signal: the tables are incomplete\n";
        }

        std::string setting = "Measured on " + machine_description() + "; " +
                              std::to_string(o.concurrency) + " concurrent connections from " +
                              std::to_string(o.threads) + " client threads, " +
                              seconds_text(o.duration_ms) +
                              " s per cell after a short warm-up, each cell the median of " +
                              std::to_string(rounds) + (rounds == 1 ? " round" : " rounds") +
                              " (every row once per round), the load client on the same "
                              "machine.\n\n";
        std::string warning = noise_warning(workloads, rows);
        if (!warning.empty()) {
            std::cerr << "[bench] warning: " << warning;
            warning += "\n";
        }
        std::string tables = render_tables(workloads, rows);
        bool all_met = true;
        std::string targets_md = render_targets(workloads, rows, all_met);
        if (!targets_md.empty()) {
            tables += "\n" + targets_md;
            std::cerr << "[bench] targets: "
                      << (all_met ? "every one met" : "not all met (see the Targets table)")
                      << "\n";
        }
        if (!no_fork_cost && !interrupted && !stop_requested(o.stop_fd)) {
            tables += "\n" + fork_cost_section(bin);
        }
        std::cout << setting << warning << tables << std::flush;
        if (!output.empty()) {
            std::string image;
            if (!chart.empty()) {
                image = "\\image html " + chart.substr(chart.rfind('/') + 1) +
                        " \"Requests per second of each row, median and range of the rounds\"\n\n";
            }
            failed = !write_file(output,
                                 "# Bench results {#bench_results}\n\n"
                                 "The tables of the last run of the bench (`cmake --workflow "
                                 "--preset bench`). Absolute figures depend on the machine and "
                                 "drift from run to run; the ratios between rows of one run are "
                                 "what hold. See \\ref bench for how each column is measured.\n\n" +
                                     setting + warning + image + tables) ||
                     failed;
        }
        if (!chart.empty()) {
            failed = !write_file(chart, render_chart_svg(workloads, rows, machine_description())) ||
                     failed;
        }
        if (!failed && !interrupted) {
            remove_logs(logs, targets);
        } else if (::rmdir(logs.c_str()) == -1) {  // kept for a post-mortem unless empty
            std::cerr << "[bench] the servers' logs are in " << logs << "\n";
        }
        return failed || interrupted ? 1 : 0;
    } catch (const std::exception& e) {
        std::cerr << "bench: " << e.what() << "\n";
        return 1;
    }
}
