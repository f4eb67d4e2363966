/// \file
/// \brief die_with_master() and jittered_limit().
#include "worker_life.hpp"

#include <sys/prctl.h>
#include <unistd.h>

#include <csignal>
#include <random>

#include "scoreboard.hpp"

namespace forklab::ch03 {

//! [die_with_master]
bool die_with_master(pid_t master) {
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    // The signal follows the parent's death only from now on: if it died already, we were
    // re-parented and must leave by ourselves (pitfall 14).
    return ::getppid() == master;
}
//! [die_with_master]

long jittered_limit(long max_requests) {
    if (max_requests <= 1) {
        return max_requests;
    }
    std::mt19937 random(static_cast<unsigned>(::getpid()) ^
                        static_cast<unsigned>(Scoreboard::now_ms()));
    return max_requests - std::uniform_int_distribution<long>(0, max_requests / 2)(random);
}

}  // namespace forklab::ch03
