/// \file
/// \brief A chapter 05 worker: takes connections from its channel, serves them from one epoll loop.
#pragma once

#include <sys/types.h>

#include <cstddef>

#include "03_prefork_flock/scoreboard.hpp"
#include "connections.hpp"
#include "router.hpp"
#include "stats.hpp"

namespace forklab::ch05 {

/// What a worker is given at fork.
struct WorkerContext {
    ThisWorker me;               ///< Its end of the socketpair with the master, and its index.
    ch03::Scoreboard& board;     ///< Its slot, and /status.
    std::size_t slot;            ///< Its scoreboard slot.
    const DispatchStats& stats;  ///< The master's counts, for /status.
    pid_t master;                ///< To notice the master's death.
    ConnectionLimits limits;     ///< Timeouts and its connection cap.
    Router* router;              ///< A later chapter's second look at each connection, or none.
    bool drills;                 ///< /crash and /hang.
};

/// The worker's whole life (the body given to spawn()); returns its exit code.
///
/// Takes connections from the channel and serves them with keep-alive. QUIT or HUP: leave
/// gracefully (finish what is in flight with `Connection: close`, close idle connections, exit 0
/// once none is left). TERM: exit now. End-of-file on the channel or the master's death
/// (PR_SET_PDEATHSIG): exit now; nobody else holds these connections, so their clients see a close.
int run_worker(const WorkerContext& context);

}  // namespace forklab::ch05
