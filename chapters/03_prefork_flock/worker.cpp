/// \file
/// \brief The worker's accept loop.
#include "worker.hpp"

#include <poll.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <optional>
#include <sstream>

#include "01_fork_server/acceptor.hpp"
#include "01_fork_server/signals.hpp"
#include "01_fork_server/spawn.hpp"
#include "forklab/log.hpp"
#include "worker_life.hpp"

namespace forklab::ch03 {

namespace {

/// A stopping worker takes at most this many queued connections before it leaves, so that
/// clients who keep arriving cannot hold it past its deadline.
constexpr int max_drained = 128;

class WorkerLoop {
  public:
    WorkerLoop(const WorkerContext& c, ch01::SignalEvents& signals, ch01::Acceptor& acceptor)
        : c_(c), slot_(c.board.slot(c.slot)), signals_(signals), acceptor_(acceptor) {}
    int run();

  private:
    enum class Told { nothing, leave, drain_and_leave };
    void look_at_signals();
    ch01::AcceptResult take_one();
    void serve(Fd conn);
    void drain();
    void set(SlotState s) {
        slot_.state = static_cast<int>(s);
        if (c_.on_change) {
            c_.on_change(slot_);
        }
    }
    [[nodiscard]] std::string status(bool json) const;

    const WorkerContext& c_;
    Slot& slot_;
    ch01::SignalEvents& signals_;
    ch01::Acceptor& acceptor_;
    AppContext app_{c_.drills, [this](bool json) { return status(json); }};
    Told told_ = Told::nothing;
};

std::string WorkerLoop::status(bool json) const {
    std::ostringstream s;
    if (json) {
        s << "{\"design\":\"" << c_.design << "\",\"workers\":" << c_.board.render(true) << "}\n";
    } else {
        s << "design: " << c_.design << "\n" << c_.board.render(false);
    }
    return s.str();
}

void WorkerLoop::look_at_signals() {
    for (int sig : signals_.take()) {
        if (sig == SIGUSR1) {
            log::reopen();
        } else if (sig == SIGQUIT) {
            told_ = Told::drain_and_leave;
        } else if (sig == SIGHUP && told_ == Told::nothing) {
            told_ = Told::leave;
        }
    }
}

//! [take_one]
/// Holding the lock: one connection, or nothing when a signal came first.
ch01::AcceptResult WorkerLoop::take_one() {
    // Under load a connection is already queued: no need to wait for it.
    ch01::AcceptResult r = acceptor_.accept();
    if (r.status != ch01::AcceptStatus::would_block) {
        return r;
    }
    // Wait for a client *and* for the signal pipe: a stop must not wait for the next client.
    pollfd fds[2] = {{acceptor_.listen_fd(), POLLIN, 0}, {signals_.fd(), POLLIN, 0}};
    if (::poll(fds, 2, -1) > 0 && (fds[0].revents & POLLIN) != 0) {
        return acceptor_.accept();  // may still be would_block: another worker took it (none)
    }
    return r;  // a signal (or EINTR): let go of the lock and look at it
}
//! [take_one]

void WorkerLoop::serve(Fd conn) {
    set(SlotState::busy);
    serve_one(std::move(conn), app_, c_.limits);
    ++slot_.requests;
}

//! [worker_loop]
int WorkerLoop::run() {
    const long limit = jittered_limit(c_.max_requests);
    for (;;) {
        // Before blocking: a stop that arrived while we were serving is seen here. One that
        // arrives after this line interrupts flock() with EINTR (no SA_RESTART), or, in the
        // instant before flock() starts, is repeated by the master 100 ms later.
        look_at_signals();
        if (told_ != Told::nothing || (limit != 0 && static_cast<long>(slot_.requests) >= limit)) {
            break;
        }
        set(SlotState::waiting);
        if (!c_.lock.acquire()) {
            continue;  // EINTR: a signal
        }
        set(SlotState::accepting);
        ch01::AcceptResult r = take_one();
        c_.lock.release();  // before serving: the next worker may wait in accept meanwhile
        if (r.status == ch01::AcceptStatus::accepted) {
            serve(std::move(r.conn));
        } else if (r.status == ch01::AcceptStatus::backoff) {
            // Out of memory or descriptors and nothing to shed: do not spin on the listener.
            set(SlotState::waiting);
            pollfd p{signals_.fd(), POLLIN, 0};
            ::poll(&p, 1, ch01::Acceptor::backoff_ms);
        }
    }
    set(SlotState::exiting);
    if (told_ == Told::drain_and_leave) {
        drain();
    }
    return 0;
}
//! [worker_loop]

/// QUIT: the whole pool is leaving, and the listening socket with it; whatever waits in its queue
/// would be reset. Serve it first (every leaving worker does, without the lock).
void WorkerLoop::drain() {
    for (int n = 0; n < max_drained; ++n) {
        ch01::AcceptResult r = acceptor_.accept();
        if (r.status == ch01::AcceptStatus::accepted) {
            serve(std::move(r.conn));
        } else if (r.status != ch01::AcceptStatus::retry && r.status != ch01::AcceptStatus::shed) {
            break;  // the queue is empty
        }
    }
}

}  // namespace

int run_worker(const WorkerContext& c) {
    if (!die_with_master(c.master)) {
        return 0;  // the master died before we could ask to die with it
    }
    log::set_role("worker");
    if (c.crash_at_start) {
        log::line("drill: crashing before the accept loop");
        std::abort();
    }
    // The one place in the kit that wants EINTR: without SA_RESTART, a QUIT or HUP makes a
    // flock() or fcntl(F_SETLKW) that is waiting for the lock fail with EINTR.
    ch01::SignalEvents signals({SIGQUIT, SIGHUP, SIGUSR1}, false);
    ch01::unblock_signals({SIGQUIT, SIGHUP, SIGUSR1});  // held by the master since the fork
    std::optional<ch01::Acceptor> acceptor;
    try {
        c.lock.open_in_worker();
        acceptor.emplace(c.listener);
    } catch (const std::system_error& e) {
        log::line("cannot start: ", e.what());
        return exit_fatal_setup;
    }
    try {
        return WorkerLoop(c, signals, *acceptor).run();
    } catch (const std::system_error& e) {
        // A broken listener or lock (EBADF, EINVAL ...): a new worker would fail the same way.
        log::line("cannot go on: ", e.what());
        return exit_fatal_setup;
    }
}

}  // namespace forklab::ch03
