/// \file
/// \brief Chapter 04's seam: how many workers to spawn or retire, as a pure function.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace forklab::ch04 {

/// One worker as the policy sees it.
struct WorkerInfo {
    pid_t pid = 0;     ///< The worker.
    bool idle = true;  ///< Waiting for a connection (a worker still starting counts as idle).
    long age_ms = 0;   ///< Time since it was spawned.
};

/// The knobs (`--min-idle`, `--max-idle`, `--max-workers`, `--min-age`).
struct PolicyConfig {
    long min_idle = 2;       ///< Low water mark: fewer idle workers than this, spawn.
    long max_idle = 5;       ///< High water mark: more idle workers than this, retire one.
    long max_workers = 32;   ///< Hard cap on workers, never exceeded.
    long min_age_ms = 2000;  ///< A worker younger than this is never retired (no oscillation).
    int max_rate = 32;       ///< The spawn rate doubles up to this.
};

/// What the policy remembers from one maintenance period to the next.
struct PolicyState {
    int rate = 1;         ///< Workers to spawn next time the pool is short of idle ones.
    bool at_cap = false;  ///< The last decision wanted more workers than the cap allows.
};

/// What to do in this period.
struct Decision {
    int spawn = 0;              ///< Workers to fork now.
    std::vector<pid_t> retire;  ///< Workers to ask to leave (gracefully).
    std::string reason;         ///< Why, for the log ("idle 1 < min 2: spawning 2"); "" if nothing.
    bool cap_reached = false;   ///< The cap stopped a spawn that was needed, for the first time
                                ///< since the pool was last satisfied (log it once).
};

/// Decides one maintenance period, from a snapshot of the pool (\p workers, excluding workers
/// already leaving), the configuration and the state kept between periods.
///
/// Short of idle workers: spawn `state.rate` (never past the cap), then double the rate for the
/// next period (1, 2, 4 ... max_rate); once the pool has enough idle workers the rate is back to 1.
/// Over the high mark: retire the oldest idle worker, one per period, and never one younger than
/// min_age_ms; ties go to the lower pid. Otherwise: nothing. Pure: no clock, no I/O.
Decision decide(const std::vector<WorkerInfo>& workers, const PolicyConfig& config,
                PolicyState& state);

}  // namespace forklab::ch04
