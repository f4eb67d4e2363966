/// \file
/// \brief A half-written exercise 04 policy, for the grading tests: it never spawns, and while
/// the pool is short of idle workers it waits for something that never comes (a hang, not a
/// crash). The grader must cut it at its time limits and leave no process behind.
#include <unistd.h>

#include "policy.hpp"

namespace forklab::ch04 {

Decision decide(const std::vector<WorkerInfo>& workers, const PolicyConfig& config,
                PolicyState& state) {
    static_cast<void>(state);
    long idle = 0;
    for (const WorkerInfo& w : workers) {
        idle += w.idle ? 1 : 0;
    }
    while (idle < config.min_idle) {
        ::pause();  // TODO: spawn
    }
    return Decision{};
}

}  // namespace forklab::ch04
