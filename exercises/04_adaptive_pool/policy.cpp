/// \file
/// \brief Exercise 04: the water-mark policy.
///
/// This is the starter: the naive policy many first pools use. It keeps the idle count inside the
/// marks, so the pool works, until a burst or a quiet spell. Read
/// exercises/04_adaptive_pool/README.md, then make the tests pass with
///
///     cmake --build --preset dev --target grade_ex04
#include <algorithm>

#include "policy.hpp"

namespace forklab::ch04 {

Decision decide(const std::vector<WorkerInfo>& workers, const PolicyConfig& config,
                PolicyState& /*state: the starter remembers nothing*/) {
    Decision d;
    long idle =
        std::count_if(workers.begin(), workers.end(), [](const WorkerInfo& w) { return w.idle; });
    if (idle < config.min_idle) {
        // Short of idle workers: make up the difference at once.
        d.spawn = static_cast<int>(config.min_idle - idle);
        d.reason = "idle " + std::to_string(idle) + " < min: spawning " + std::to_string(d.spawn);
    } else if (idle > config.max_idle) {
        // Too many: retire every idle worker above the mark, right now.
        for (const WorkerInfo& w : workers) {
            if (w.idle && static_cast<long>(d.retire.size()) < idle - config.max_idle) {
                d.retire.push_back(w.pid);
            }
        }
        d.reason =
            "idle " + std::to_string(idle) + " > max: retiring " + std::to_string(d.retire.size());
    }
    return d;
}

}  // namespace forklab::ch04
