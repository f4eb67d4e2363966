/// \file
/// \brief The master's dispatch counts, in memory every worker can read, and the /status page.
#pragma once

#include <atomic>
#include <string>

#include "03_prefork_flock/scoreboard.hpp"

namespace forklab::ch05 {

class Router;

/// What the master did with the connections it accepted. Written by the master only; lives in a
/// Shared<DispatchStats>.
struct DispatchStats {
    std::atomic<unsigned long> accepted{0};  ///< Connections accepted.
    std::atomic<unsigned long> passed{0};    ///< New connections passed to a worker.
    std::atomic<unsigned long> refused{0};   ///< Answered 503: no worker could take them.
    std::atomic<unsigned long> shed{0};      ///< Closed unanswered: the master ran out of
                                             ///< descriptors (EMFILE).
};

/// /status: each worker's pid, state, requests served, age, open connections and connections
/// passed to it (the scoreboard), then the master's dispatch counts, then the \p router's part
/// (if any). JSON when \p json.
std::string render_status(const ch03::Scoreboard& board, const DispatchStats& stats,
                          const Router* router, bool json);

}  // namespace forklab::ch05
