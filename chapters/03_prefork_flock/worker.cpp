/// \file
/// \brief The worker's accept loop.
#include "worker.hpp"

#include <poll.h>
#include <unistd.h>

#include <csignal>
#include <sstream>

#include "forklab/acceptor.hpp"
#include "forklab/log.hpp"
#include "forklab/process.hpp"
#include "forklab/signals.hpp"
#include "forklab/worker_life.hpp"

namespace forklab::ch03 {

//! [worker_loop]
int run_worker(const WorkerContext& c) {
    if (!die_with_master(c.master)) {
        return 0;  // the master died before we could ask to die with it
    }
    log::set_role("worker");
    Slot& slot = c.board.slot(c.slot);
    slot.started_ms = Scoreboard::now_ms();
    slot.state = static_cast<int>(SlotState::starting);
    // Without SA_RESTART: QUIT or HUP makes a blocking flock() fail with EINTR, so a worker
    // waiting for the lock notices a stop. (The master repeats the signal until the worker is
    // gone, in case it arrived just before the worker blocked.)
    SignalEvents signals({SIGQUIT, SIGHUP, SIGUSR1}, false);
    try {
        c.lock.open_in_worker();
    } catch (const std::system_error& e) {
        log::line("cannot start: ", e.what());
        return exit_fatal_setup;
    }
    Acceptor acceptor(c.listener);
    AppContext app{c.drills, [&c](bool json) {
                       std::ostringstream s;
                       if (json) {
                           s << "{\"design\":\"" << c.design
                             << "\",\"workers\":" << c.board.render(true) << "}\n";
                       } else {
                           s << "design: " << c.design << "\n" << c.board.render(false);
                       }
                       return s.str();
                   }};
    long limit = jittered_limit(c.max_requests);
    bool stopping = false;
    auto look_at_signals = [&] {
        for (int sig : signals.take()) {
            if (sig == SIGUSR1) {
                log::reopen();
            } else {
                stopping = true;  // QUIT or HUP: finish what is in hand, then go
            }
        }
    };
    auto set = [&](SlotState s) { slot.state = static_cast<int>(s); };
    while (!stopping && (limit == 0 || static_cast<long>(slot.requests) < limit)) {
        set(SlotState::waiting);
        if (!c.lock.acquire()) {
            look_at_signals();  // interrupted while waiting for the lock
            continue;
        }
        set(SlotState::accepting);
        pollfd fds[2] = {{c.listener, POLLIN, 0}, {signals.fd(), POLLIN, 0}};
        AcceptResult r{AcceptStatus::would_block, Fd(), 0};
        if (::poll(fds, 2, -1) > 0 && (fds[0].revents & POLLIN) != 0) {
            r = acceptor.accept();
        }
        c.lock.release();  // before serving: the next worker may accept meanwhile
        look_at_signals();
        if (r.status == AcceptStatus::accepted) {
            set(SlotState::busy);
            serve_one(std::move(r.conn), app, c.limits);
            ++slot.requests;
        }
    }
    set(SlotState::exiting);
    if (stopping) {
        // Serve what is already queued before going (others may be leaving too).
        for (AcceptResult r = acceptor.accept();
             r.status == AcceptStatus::accepted || r.status == AcceptStatus::retry;
             r = acceptor.accept()) {
            if (r.conn) {
                serve_one(std::move(r.conn), app, c.limits);
                ++slot.requests;
            }
        }
    }
    return 0;
}
//! [worker_loop]

}  // namespace forklab::ch03
