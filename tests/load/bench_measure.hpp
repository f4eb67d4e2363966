/// \file
/// \brief Measuring one server: its keep-alive answer, one workload's cell, its memory at rest.
#pragma once

#include <sys/types.h>

#include <string>

#include "bench_table.hpp"
#include "forklab/net.hpp"

namespace forklab::load {

/// How the bench loads every cell.
struct CellLoad {
    int concurrency = 16;     ///< Connections at once.
    int threads = 1;          ///< The load client's event loops.
    long duration_ms = 2000;  ///< Measured time per cell, after a warm-up of at most 500 ms.
    int stop_fd = -1;         ///< Readable after a signal to the bench: ends the cell early.
};

/// Does the server at \p at keep a connection open after answering a keep-alive request? Asks
/// the server instead of guessing from its name: one `GET /` without `Connection: close`, answered
/// with a complete 200 response that does not announce a close. Tries up to 3 times; when no
/// answer comes, says so on stderr (naming \p name) and returns false.
bool keeps_alive(const std::string& name, const Endpoint& at);

/// Puts workload \p w on the server at \p at and returns its cell. With \p master > 0 (a server
/// the bench started) it also measures the server's CPU per request (tree_cpu() before and after)
/// and its most processes (sampled every 100 ms); with -1 (an external server) those stay
/// unknown. A cell ended early by stop_fd is not_run.
Cell measure_cell(const Endpoint& at, pid_t master, const Workload& w, const CellLoad& load);

/// Memory at rest: waits (at most 3 s) until the number of \p master's children holds still for
/// 200 ms (a design whose children live for one request has none left), then fills the rest and
/// PSS fields of \p row from /proc.
void measure_rest(pid_t master, Row& row);

}  // namespace forklab::load
