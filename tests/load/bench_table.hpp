/// \file
/// \brief The bench's results and the Markdown tables made of them.
#pragma once

#include <string>
#include <vector>

namespace forklab::load {

/// One load the bench puts on every server.
struct Workload {
    std::string title;  ///< The heading of its table.
    std::string path;   ///< What loadgen GETs.
    bool keep_alive;    ///< Reuse connections (only servers that keep them open get this load).
};

/// One server under one workload.
struct Cell {
    /// Whether and why the cell has figures.
    enum class Status {
        not_run,        ///< The server did not start, or the run was stopped first.
        no_keep_alive,  ///< A keep-alive load, and the server answers `Connection: close`.
        measured,       ///< The figures below are valid.
    };
    Status status = Status::not_run;  ///< Whether the figures are valid.
    double rps = 0;                   ///< Successful requests per second.
    double cpu_us = -1;               ///< Server CPU per request, microseconds; < 0: unknown.
    double p99_ms = 0;                ///< 99th percentile latency of successful requests.
    long errors = 0;                  ///< Failed requests.
    std::string error_kinds;          ///< "reset 2, short 1"; empty without errors.
    int processes = 0;                ///< Most processes seen during the load; 0: unknown.
    int rounds = 0;                   ///< Rounds that measured this cell (median_of counts them).
    double rps_min = 0;               ///< Lowest requests/s of those rounds.
    double rps_max = 0;               ///< Highest requests/s of those rounds.

    /// The spread over rounds: (highest - lowest) / median requests/s, 0 for one round.
    [[nodiscard]] double spread() const { return rps > 0 ? (rps_max - rps_min) / rps : 0; }
};

/// One server: a row in each table.
struct Row {
    std::string name;          ///< ceiling, ch01_fork_server ... or an external NAME.
    std::string problem;       ///< Why the row is incomplete or failed; "" when all went well.
    std::vector<Cell> cells;   ///< One per workload, in the order of the workloads.
    int rest_processes = 0;    ///< Processes at rest after the load; 0: unknown.
    long master_pss_kib = -1;  ///< PSS of the master at rest; < 0: unknown.
    long worker_pss_kib = -1;  ///< Mean PSS of its live children at rest; < 0: none or unknown.
};

/// One row out of the same server's rows from several rounds: in each workload, the measured cell
/// with the median requests/s (the lower middle one of an even count), so that a moment of noise
/// on a shared machine moves no figure. Nothing is hidden by it: the chosen cell also holds the
/// lowest and highest requests/s of the rounds and how many rounds measured it, the errors of
/// every round are added up in it, and every round's problem is kept. Memory comes from the last
/// round that measured it. \p rounds must not be empty.
Row median_of(const std::vector<Row>& rounds);

/// The spread above which the ceiling's row makes the whole run suspect (0.15: 15 %).
constexpr double noisy_spread = 0.15;

/// The tables, in Markdown: one per workload (requests/s, its range over the rounds, % of the
/// ceiling's row, % of the fork floor's row, CPU per request, p99, errors, processes), then memory
/// at rest, then notes on the columns. The first row named `ceiling` is the 100% of each workload,
/// the first named `fork_floor` the 100% of the floor column.
std::string render_tables(const std::vector<Workload>& workloads, const std::vector<Row>& rows);

/// One ratio the kit means to hold: \p row's requests/s at least \p at_least times \p reference's,
/// in every workload of the kind \p keep_alive names.
struct SpeedTarget {
    const char* row;        ///< ch05_fd_passing ...
    const char* reference;  ///< ceiling, fork_floor or another row.
    double at_least;        ///< 0.9: 90 %.
    bool keep_alive;        ///< Judged on the keep-alive workloads, else on the others.
};

/// The kit's targets: each design within a tenth of its own floor.
inline constexpr SpeedTarget speed_targets[] = {
    {"ch01_fork_server", "fork_floor", 0.90, false},
    {"ch03_prefork_flock", "ceiling", 0.90, false},
    {"ch04_adaptive_pool", "ch03_prefork_flock", 0.90, false},
    {"ch05_fd_passing", "ceiling", 0.90, false},
    {"ch05_fd_passing", "ceiling", 0.95, true},
};

/// The targets, in Markdown: one line per target and workload whose two rows were measured, with
/// the ratio of their medians and whether it holds, then whether every measured cell of every row
/// is free of errors. Sets \p all_met to false when something falls short (left alone otherwise);
/// "" when no target's rows are in \p rows.
std::string render_targets(const std::vector<Workload>& workloads, const std::vector<Row>& rows,
                           bool& all_met);

/// A warning when the ceiling's row spreads more than noisy_spread over the rounds in some
/// workload: "The ceiling's row moved 23% between rounds ..."; "" when it did not (or has one
/// round, or there is no ceiling row).
std::string noise_warning(const std::vector<Workload>& workloads, const std::vector<Row>& rows);

/// "AMD EPYC, 2 cores, Linux 6.1.0, 2026-11-23": the CPU model (/proc/cpuinfo), the cores online,
/// the kernel release (uname) and today's date (UTC).
std::string machine_description();

/// 12345.6 as "12,346".
std::string with_thousands(double value);

}  // namespace forklab::load
