/// \file
/// \brief Rendering the bench's tables.
#include "bench_table.hpp"

#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <sstream>

namespace forklab::load {

namespace {

std::string fixed(double v, int digits) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", digits, v);
    return buf;
}

std::string or_dash(bool known, const std::string& text) {
    return known ? text : "-";
}

/// The cell of workload \p w of the first row named \p name that measured it; nullptr when none.
const Cell* measured_cell(const std::vector<Row>& rows, const std::string& name, std::size_t w) {
    for (const Row& r : rows) {
        if (r.name == name && r.cells[w].status == Cell::Status::measured) {
            return &r.cells[w];
        }
    }
    return nullptr;
}

/// The requests/s of the first measured row named \p name in workload \p w; 0 when none.
double reference_rps(const std::vector<Row>& rows, const std::string& name, std::size_t w) {
    const Cell* c = measured_cell(rows, name, w);
    return c != nullptr ? c->rps : 0;
}

/// "26,100-29,400 (12%)": the lowest and highest requests/s over the rounds and their distance as
/// a share of the median; "-" for one round.
std::string range_text(const Cell& c) {
    if (c.rounds < 2) {
        return "-";
    }
    return with_thousands(c.rps_min) + "-" + with_thousands(c.rps_max) + " (" +
           fixed(100.0 * c.spread(), 0) + "%)";
}

}  // namespace

std::string with_thousands(double value) {
    std::string digits = std::to_string(static_cast<long long>(value + 0.5));
    std::string out;
    for (std::size_t i = 0; i < digits.size(); ++i) {
        if (i > 0 && (digits.size() - i) % 3 == 0) {
            out += ',';
        }
        out += digits[i];
    }
    return out;
}

Row median_of(const std::vector<Row>& rounds) {
    Row out = rounds.front();
    for (std::size_t w = 0; w < out.cells.size(); ++w) {
        std::vector<Cell> measured;
        long errors = 0;
        std::string kinds;
        for (const Row& r : rounds) {
            const Cell& c = r.cells.at(w);
            if (c.status == Cell::Status::measured) {
                measured.push_back(c);
                errors += c.errors;
                kinds += c.error_kinds.empty() ? "" : (kinds.empty() ? "" : ", ") + c.error_kinds;
            }
        }
        if (measured.empty()) {
            continue;  // every round says why: not run, or no keep-alive
        }
        std::sort(measured.begin(), measured.end(),
                  [](const Cell& a, const Cell& b) { return a.rps < b.rps; });
        out.cells[w] = measured[(measured.size() - 1) / 2];
        out.cells[w].rounds = static_cast<int>(measured.size());
        out.cells[w].rps_min = measured.front().rps;
        out.cells[w].rps_max = measured.back().rps;
        out.cells[w].errors = errors;
        out.cells[w].error_kinds = kinds;
    }
    out.problem.clear();
    for (const Row& r : rounds) {
        if (!r.problem.empty() && out.problem.find(r.problem) == std::string::npos) {
            out.problem += (out.problem.empty() ? "" : "; ") + r.problem;
        }
        if (r.master_pss_kib >= 0) {
            out.rest_processes = r.rest_processes;
            out.master_pss_kib = r.master_pss_kib;
            out.worker_pss_kib = r.worker_pss_kib;
        }
    }
    return out;
}

std::string render_tables(const std::vector<Workload>& workloads, const std::vector<Row>& rows) {
    std::ostringstream md;
    for (std::size_t w = 0; w < workloads.size(); ++w) {
        double ceiling = reference_rps(rows, "ceiling", w);
        double floor = reference_rps(rows, "fork_floor", w);
        md << "### " << workloads[w].title << "\n\n"
           << "| design | requests/s | range over rounds | % of ceiling | % of fork floor | "
              "CPU us/request | p99 ms | errors | processes |\n"
           << "|---|---:|---:|---:|---:|---:|---:|---|---:|\n";
        bool above = false;
        for (const Row& r : rows) {
            const Cell& c = r.cells[w];
            md << "| " << r.name << " | ";
            if (c.status == Cell::Status::no_keep_alive) {
                md << "n/a | | | | | | | |\n";
                continue;
            }
            if (c.status == Cell::Status::not_run) {
                md << "not run | | | | | | | |\n";
                continue;
            }
            md << with_thousands(c.rps) << " | " << range_text(c) << " | "
               << or_dash(ceiling > 0, fixed(100.0 * c.rps / ceiling, 0) + "%") << " | "
               << or_dash(floor > 0, fixed(100.0 * c.rps / floor, 0) + "%") << " | "
               << or_dash(c.cpu_us >= 0, fixed(c.cpu_us, 1)) << " | " << fixed(c.p99_ms, 2) << " | "
               << c.errors << (c.error_kinds.empty() ? "" : " (" + c.error_kinds + ")") << " | "
               << or_dash(c.processes > 0, std::to_string(c.processes)) << " |\n";
            above = above || (ceiling > 0 && c.rps > ceiling);
        }
        if (above) {
            md << "\nA row above 100%: on this workload the load client, sharing the machine, "
                  "limits the ceiling too, so the requests/s of the two are within noise; compare "
                  "their CPU per request instead.\n";
        }
        md << "\n";
    }
    md << "### Memory at rest, after the load\n\n"
       << "| design | processes | PSS of the master (KiB) | PSS per worker (KiB) |\n"
       << "|---|---:|---:|---:|\n";
    for (const Row& r : rows) {
        md << "| " << r.name << " | "
           << or_dash(r.rest_processes > 0, std::to_string(r.rest_processes)) << " | "
           << or_dash(r.master_pss_kib >= 0, std::to_string(r.master_pss_kib)) << " | "
           << or_dash(r.worker_pss_kib >= 0, std::to_string(r.worker_pss_kib)) << " |\n";
    }
    bool problems = false;
    for (const Row& r : rows) {
        if (!r.problem.empty()) {
            md << (problems ? "" : "\nProblems:\n\n") << "- " << r.name << ": " << r.problem
               << "\n";
            problems = true;
        }
    }
    md << "\n`n/a`: the design answers `Connection: close`, so it has no keep-alive row. "
          "Range over rounds: the lowest and highest requests/s of the rounds, and their distance "
          "as a share of the median shown. % of fork floor: the row over the minimal "
          "fork-per-connection responder, the measure for designs that fork per connection. "
          "CPU per request: user + sys time of the master, its live workers and its reaped "
          "children over the measured load, divided by the requests served. Processes: the most "
          "seen during the load (master and children). PSS: proportional set size, each shared "
          "page divided among the processes sharing it; `-` for a design with no child at rest "
          "(its children live only for a request) and for servers the bench did not start.\n";
    return md.str();
}

std::string render_targets(const std::vector<Workload>& workloads, const std::vector<Row>& rows,
                           bool& all_met) {
    std::ostringstream md;
    int lines = 0;
    for (const SpeedTarget& t : speed_targets) {
        for (std::size_t w = 0; w < workloads.size(); ++w) {
            const Cell* mine = measured_cell(rows, t.row, w);
            const Cell* reference = measured_cell(rows, t.reference, w);
            if (workloads[w].keep_alive != t.keep_alive || mine == nullptr ||
                reference == nullptr || reference->rps <= 0) {
                continue;
            }
            double ratio = mine->rps / reference->rps;
            bool met = ratio >= t.at_least;
            all_met = all_met && met;
            md << (lines++ == 0 ? "| target | workload | measured | met |\n|---|---|---:|---|\n"
                                : "")
               << "| " << t.row << " >= " << fixed(100.0 * t.at_least, 0) << "% of " << t.reference
               << " | " << workloads[w].title << " | " << fixed(100.0 * ratio, 1) << "% | "
               << (met ? "yes" : "**no**") << " |\n";
        }
    }
    if (lines == 0) {
        return "";
    }
    long errors = 0;
    for (const Row& r : rows) {
        for (const Cell& c : r.cells) {
            errors += c.status == Cell::Status::measured ? c.errors : 0;
        }
    }
    all_met = all_met && errors == 0;
    md << "| every row without errors | every workload | " << errors << " errors | "
       << (errors == 0 ? "yes" : "**no**") << " |\n";
    return "### Targets\n\nEach design within a tenth of its own floor: the ratio of the medians "
           "of one run, rows taking turns. A target missed on a noisy run (see the warning above) "
           "says little; one missed on a quiet run is a regression to find.\n\n" +
           md.str();
}

std::string noise_warning(const std::vector<Workload>& workloads, const std::vector<Row>& rows) {
    std::string worst_title;
    double worst = 0;
    for (const Row& r : rows) {
        if (r.name != "ceiling") {
            continue;
        }
        for (std::size_t w = 0; w < workloads.size() && w < r.cells.size(); ++w) {
            const Cell& c = r.cells[w];
            if (c.status == Cell::Status::measured && c.rounds > 1 && c.spread() > worst) {
                worst = c.spread();
                worst_title = workloads[w].title;
            }
        }
        break;
    }
    if (worst <= noisy_spread) {
        return "";
    }
    return "**Noisy run**: the ceiling's row moved " + fixed(100.0 * worst, 0) +
           "% between rounds (" + worst_title + "), more than " + fixed(100.0 * noisy_spread, 0) +
           "%: the machine was busy with other work, and differences between rows smaller than "
           "that spread say nothing. Run the bench again on a quieter machine.\n";
}

std::string machine_description() {
    std::ifstream cpuinfo("/proc/cpuinfo");
    std::string model = "unknown CPU";
    for (std::string line; std::getline(cpuinfo, line);) {
        if (line.rfind("model name", 0) == 0 && line.find(':') != std::string::npos) {
            model = line.substr(line.find(':') + 2);
            break;
        }
    }
    utsname u{};
    std::string kernel = ::uname(&u) == 0 ? std::string("Linux ") + u.release : "Linux";
    char date[32] = "unknown date";
    std::time_t now = std::time(nullptr);
    std::tm utc{};
    if (::gmtime_r(&now, &utc) != nullptr) {
        std::strftime(date, sizeof date, "%Y-%m-%d", &utc);
    }
    long cores = ::sysconf(_SC_NPROCESSORS_ONLN);
    return model + ", " + std::to_string(cores) + (cores == 1 ? " core, " : " cores, ") + kernel +
           ", " + date;
}

}  // namespace forklab::load
