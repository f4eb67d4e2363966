/// \file
/// \brief The worker's loop: blocking accept, interrupted by signals.
#include "worker.hpp"

#include <sys/time.h>
#include <unistd.h>

#include <csignal>
#include <sstream>

#include "forklab/acceptor.hpp"
#include "forklab/held_signals.hpp"
#include "forklab/log.hpp"
#include "forklab/process.hpp"
#include "forklab/signals.hpp"
#include "forklab/worker_life.hpp"
#include "records.hpp"

namespace forklab::ch04 {

namespace {

/// SIGALRM every \p ms milliseconds while it lives. It must die before the SignalEvents that
/// catches SIGALRM: a tick after the handler is gone would kill the worker (SIGALRM's default).
class HeartbeatTimer {
  public:
    explicit HeartbeatTimer(long ms) {
        itimerval every{};
        every.it_interval = {ms / 1000, (ms % 1000) * 1000};
        every.it_value = every.it_interval;
        ::setitimer(ITIMER_REAL, &every, nullptr);
    }
    ~HeartbeatTimer() {
        itimerval off{};
        ::setitimer(ITIMER_REAL, &off, nullptr);  // a tick already due is caught on the way out
    }
    HeartbeatTimer(const HeartbeatTimer&) = delete;
    HeartbeatTimer& operator=(const HeartbeatTimer&) = delete;
};

std::string render_status(const Scoreboard& board, bool json) {
    std::size_t idle = 0;
    std::size_t busy = 0;
    for (std::size_t i = 0; i < board.size(); ++i) {
        const Slot& s = board.slot(i);
        if (s.pid != 0) {
            auto state = static_cast<SlotState>(s.state.load());
            idle += state == SlotState::accepting || state == SlotState::starting ? 1 : 0;
            busy += state == SlotState::busy ? 1 : 0;
        }
    }
    std::ostringstream out;
    if (json) {
        out << "{\"design\":\"adaptive pool\",\"idle\":" << idle << ",\"busy\":" << busy
            << ",\"workers\":" << board.render(true) << "}\n";
    } else {
        out << "design: adaptive pool\nidle: " << idle << "\nbusy: " << busy << "\n"
            << board.render(false);
    }
    return out.str();
}

}  // namespace

//! [worker_loop]
int run_worker(const WorkerContext& c) {
    if (!die_with_master(c.master)) {
        return 0;
    }
    log::set_role("worker");
    if (c.fail_at_start) {
        log::line("drill: failing at start");
        return exit_fatal_setup;
    }
    Slot& slot = c.board.slot(c.slot);
    // Without SA_RESTART, so that every signal (the heartbeat timer included) interrupts accept.
    SignalEvents signals({SIGQUIT, SIGHUP, SIGUSR1, SIGALRM}, false);
    release_held({SIGQUIT, SIGHUP, SIGUSR1});  // held by the master since the fork
    HeartbeatTimer heartbeat(c.heartbeat_ms);  // declared after signals: stopped before them
    Acceptor acceptor(c.listener);
    AppContext app{c.drills, [&c](bool json) { return render_status(c.board, json); }};
    long limit = jittered_limit(c.max_requests);
    unsigned long served = 0;
    bool stopping = false;
    auto report = [&](RecordKind kind) {
        if (!send_record(c.report, Record{::getpid(), kind, {}, served})) {
            stopping = true;  // the master is gone
        }
    };
    auto look_at_signals = [&] {
        for (int sig : signals.take()) {
            if (sig == SIGALRM) {
                report(RecordKind::heartbeat);
            } else if (sig == SIGUSR1) {
                log::reopen();
            } else {
                stopping = true;  // QUIT or HUP: leave after the connection in hand
            }
        }
    };
    slot.state = static_cast<int>(SlotState::accepting);
    report(RecordKind::idle);
    while (!stopping && (limit == 0 || static_cast<long>(served) < limit)) {
        AcceptResult r = acceptor.accept();  // blocks; any signal interrupts it (EINTR)
        if (r.status == AcceptStatus::accepted) {
            slot.state = static_cast<int>(SlotState::busy);
            report(RecordKind::busy);
            serve_one(std::move(r.conn), app, c.limits);
            slot.requests = ++served;
            slot.state = static_cast<int>(SlotState::accepting);
            report(RecordKind::idle);
        } else if (r.status == AcceptStatus::backoff) {
            ::usleep(Acceptor::backoff_ms * 1000);
        }
        look_at_signals();
    }
    slot.state = static_cast<int>(SlotState::exiting);
    report(RecordKind::exiting);
    return 0;
}
//! [worker_loop]

}  // namespace forklab::ch04
