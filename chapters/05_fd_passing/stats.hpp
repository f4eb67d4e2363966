/// \file
/// \brief The master's dispatch counts, in memory every worker can read (for /status).
#pragma once

#include <atomic>
#include <string>

#include "03_prefork_flock/scoreboard.hpp"

namespace forklab::ch05 {

/// What the master did with the connections it accepted. Written by the master only.
struct DispatchStats {
    std::atomic<unsigned long> accepted{0};     ///< Connections accepted.
    std::atomic<unsigned long> passed{0};       ///< New connections passed to a worker.
    std::atomic<unsigned long> handed_back{0};  ///< Connections a worker handed back (not its key).
    std::atomic<unsigned long> forwarded{0};    ///< Handed-back connections passed to their owner.
    std::atomic<unsigned long> rerouted{0};     ///< Handed-back ones the owner could not take,
                                                ///< passed to another worker instead.
    std::atomic<unsigned long> refused{0};      ///< Answered 503: no worker could take them.
    std::atomic<unsigned long> shed{0};         ///< Closed unanswered: the master ran out of
                                                ///< descriptors (EMFILE).
};

/// A DispatchStats in an anonymous shared mapping, made before the first fork, unmapped by the
/// destructor.
class SharedStats {
  public:
    /// Maps the counters. Throws std::system_error naming mmap.
    SharedStats();
    ~SharedStats();
    SharedStats(const SharedStats&) = delete;
    SharedStats& operator=(const SharedStats&) = delete;

    /// The counters.
    [[nodiscard]] DispatchStats& get() const { return *stats_; }

  private:
    DispatchStats* stats_;
};

/// /status: each worker's pid, state, requests served, age, open connections and connections
/// passed to it (the scoreboard), then the master's dispatch counts. JSON when \p json.
std::string render_status(const ch03::Scoreboard& board, const DispatchStats& stats, bool json);

}  // namespace forklab::ch05
