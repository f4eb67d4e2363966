/// \file
/// \brief The reference water-mark policy (exercise 04's seam).
#include "policy.hpp"

#include <algorithm>

namespace forklab::ch04 {

//! [decide]
Decision decide(const std::vector<WorkerInfo>& workers, const PolicyConfig& config,
                PolicyState& state) {
    Decision d;
    long total = static_cast<long>(workers.size());
    long idle =
        std::count_if(workers.begin(), workers.end(), [](const WorkerInfo& w) { return w.idle; });
    std::string counts = "idle " + std::to_string(idle);
    if (idle < config.min_idle) {
        long room = config.max_workers - total;
        if (room <= 0) {
            d.cap_reached = !state.at_cap;
            state.at_cap = true;
            d.reason = counts + " < min " + std::to_string(config.min_idle) + ", but " +
                       std::to_string(total) + " workers is the cap";
            return d;
        }
        // Apache's and php-fpm's answer to a burst: start slowly, double while still short.
        d.spawn = static_cast<int>(std::min<long>(state.rate, room));
        state.rate = std::min(state.rate * 2, config.max_rate);
        d.reason = counts + " < min " + std::to_string(config.min_idle) + ": spawning " +
                   std::to_string(d.spawn);
        return d;
    }
    state.rate = 1;
    state.at_cap = false;
    if (idle > config.max_idle) {
        const WorkerInfo* oldest = nullptr;
        for (const WorkerInfo& w : workers) {
            if (!w.idle || w.age_ms < config.min_age_ms) {
                continue;
            }
            if (oldest == nullptr || w.age_ms > oldest->age_ms ||
                (w.age_ms == oldest->age_ms && w.pid < oldest->pid)) {
                oldest = &w;
            }
        }
        std::string over = counts + " > max " + std::to_string(config.max_idle);
        if (oldest == nullptr) {
            d.reason = over + ", but no idle worker is old enough to retire";
            return d;
        }
        d.retire.push_back(oldest->pid);
        d.reason = over + ": retiring " + std::to_string(oldest->pid) + " (oldest idle)";
    }
    return d;
}
//! [decide]

}  // namespace forklab::ch04
