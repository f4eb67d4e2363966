/// \file
/// \brief The worker's loop: blocking accept, interrupted by signals.
#include "worker.hpp"

#include <sys/time.h>
#include <unistd.h>

#include <csignal>
#include <sstream>

#include "01_fork_server/acceptor.hpp"
#include "01_fork_server/signals.hpp"
#include "01_fork_server/spawn.hpp"
#include "03_prefork_flock/worker_life.hpp"
#include "forklab/log.hpp"
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

std::string render_status(const ch03::Scoreboard& board, bool json) {
    std::size_t idle = 0;
    std::size_t busy = 0;
    for (std::size_t i = 0; i < board.size(); ++i) {
        const ch03::Slot& s = board.slot(i);
        if (s.pid != 0) {
            auto state = static_cast<ch03::SlotState>(s.state.load());
            idle +=
                state == ch03::SlotState::accepting || state == ch03::SlotState::starting ? 1 : 0;
            busy += state == ch03::SlotState::busy ? 1 : 0;
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
    if (!ch03::die_with_master(c.master)) {
        return 0;
    }
    log::set_role("worker");
    if (c.fail_at_start) {
        log::line("drill: failing at start");
        return ch03::exit_fatal_setup;
    }
    ch03::Slot& slot = c.board.slot(c.slot);
    // Without SA_RESTART, so that every signal (the heartbeat timer included) interrupts accept.
    ch01::SignalEvents signals({SIGQUIT, SIGHUP, SIGUSR1, SIGALRM}, false);
    ch01::unblock_signals({SIGQUIT, SIGHUP, SIGUSR1});  // held by the master since the fork
    HeartbeatTimer heartbeat(c.heartbeat_ms);  // declared after signals: stopped before them
    ch01::Acceptor acceptor(c.listener);
    AppContext app{c.drills, [&c](bool json) { return render_status(c.board, json); }};
    long limit = ch03::jittered_limit(c.max_requests);
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
    slot.state = static_cast<int>(ch03::SlotState::accepting);
    report(RecordKind::idle);
    while (!stopping && (limit == 0 || static_cast<long>(served) < limit)) {
        ch01::AcceptResult r = acceptor.accept();  // blocks; any signal interrupts it (EINTR)
        if (r.status == ch01::AcceptStatus::accepted) {
            slot.state = static_cast<int>(ch03::SlotState::busy);
            report(RecordKind::busy);
            serve_one(std::move(r.conn), app, c.limits);
            slot.requests = ++served;
            slot.state = static_cast<int>(ch03::SlotState::accepting);
            report(RecordKind::idle);
        } else if (r.status == ch01::AcceptStatus::backoff) {
            ::usleep(ch01::Acceptor::backoff_ms * 1000);
        }
        look_at_signals();
    }
    slot.state = static_cast<int>(ch03::SlotState::exiting);
    report(RecordKind::exiting);
    return 0;
}
//! [worker_loop]

}  // namespace forklab::ch04
