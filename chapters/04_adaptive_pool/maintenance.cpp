/// \file
/// \brief The master's maintenance: what the workers said, the policy, hung workers, TTIN, TTOU.
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <string>

#include "forklab/log.hpp"
#include "master.hpp"
#include "reporter.hpp"

namespace forklab::ch04 {

//! [read_records]
void Pool::read_records() {
    char buf[4096];
    for (;;) {
        ssize_t n = ::read(pipe_.read_end.get(), buf, sizeof buf);
        if (n <= 0) {
            return;  // EAGAIN: drained (EINTR: the loop comes back)
        }
        auto now = Clock::now();
        for (const Record& r : reader_.feed(buf, static_cast<std::size_t>(n))) {
            hear(r, now);
        }
    }
}
//! [read_records]

void Pool::hear(const Record& r, Clock::time_point now) {
    if (!reports_.take(r, now)) {
        log::line("bad record: pid ", r.pid, " kind ", static_cast<int>(r.kind));
    } else if (r.kind == RecordKind::idle && start_failures_.count() > 0) {
        log::line("workers start again after ", start_failures_.count(), " failures");
        start_failures_.started();  // it reached its accept loop: the crash loop is over
    }
}

void Pool::listen_to_workers() {
    if (config_.report == Report::pipe) {
        read_records();
    } else {
        read_board(0);
    }
}

//! [read_board]
/// --report scoreboard: each worker's slot is read as if it were a record, and counts as one when
/// it changed since the last look (a new state, or more requests served). \p only: that worker
/// only (0: all).
void Pool::read_board(pid_t only) {
    auto now = Clock::now();
    for (const auto& [pid, w] : workers_.all()) {
        const ch03::Slot& slot = board_.slot(w.slot);
        int kind = record_kind_of(static_cast<ch03::SlotState>(slot.state.load()));
        const Heard* h = reports_.find(pid);
        if ((only != 0 && pid != only) || kind == 0 || h == nullptr) {
            continue;
        }
        Record r{static_cast<std::int32_t>(pid),
                 static_cast<RecordKind>(kind),
                 {},
                 slot.requests.load()};
        if (!h->spoke || h->said != r.kind || h->requests != r.requests) {
            hear(r, now);
        }
    }
}
//! [read_board]

/// True while a worker forked by us has not said anything yet.
bool Pool::probing() const {
    return std::any_of(workers_.all().begin(), workers_.all().end(), [this](const auto& e) {
        const Heard* h = reports_.find(e.first);
        return h != nullptr && !h->spoke;
    });
}

//! [maintain]
void Pool::maintain() {
    std::vector<WorkerInfo> snapshot;
    auto now = Clock::now();
    for (const auto& [pid, w] : workers_.all()) {
        const Heard* h = reports_.find(pid);
        if (w.stopping() || h == nullptr || (h->spoke && h->said == RecordKind::exiting)) {
            continue;  // leaving: no longer part of the pool
        }
        long age = std::chrono::duration_cast<milliseconds>(now - w.spawned).count();
        snapshot.push_back({pid, h->idle(), age});
    }
    Decision d = decide(snapshot, config_.policy, policy_state_);
    if (d.cap_reached) {
        log::line("cap of ", config_.policy.max_workers, " workers reached");
    }
    int spawn = d.spawn;
    if (spawn > 0 && start_failures_.count() > 0) {
        // In a crash loop: one probe at a time, after the back-off, never a burst.
        spawn = probing() || now < spawn_after_ ? 0 : 1;
    }
    if (spawn > 0 || !d.retire.empty()) {
        log::line(d.reason);
    }
    for (int i = 0; i < spawn && spawn_worker(); ++i) {
    }
    for (pid_t pid : d.retire) {
        ask_to_leave(pid, SIGHUP, milliseconds(config_.graceful_timeout_ms),
                     "retired (idle above the high mark)");
    }
}
//! [maintain]

void Pool::ask_to_leave(pid_t pid, int sig, milliseconds grace, const std::string& why) {
    if (workers_.stop(pid, sig, grace)) {
        why_leaving_.emplace(pid, why);  // the first reason stays: a hung worker stays hung
    }
}

//! [stop_hung]
void Pool::stop_hung() {
    for (pid_t pid : reports_.silent(Clock::now(), milliseconds(config_.heartbeat_timeout_ms))) {
        if (workers_.serving(pid)) {
            log::line("worker ", pid, " hung: silent for over ", config_.heartbeat_timeout_ms,
                      " ms while busy or starting: SIGTERM, SIGKILL ", hung_grace.count(),
                      " ms later");
            ask_to_leave(pid, SIGTERM, hung_grace, "hung");
        }
    }
}
//! [stop_hung]

//! [move_marks]
void Pool::move_marks(int sig) {
    PolicyConfig& p = config_.policy;
    if (sig == SIGTTOU && p.min_idle <= 1) {
        log::line("TTOU: the low water mark stays at 1 (a pool with no idle worker never grows)");
        return;
    }
    if (sig == SIGTTIN && p.min_idle >= p.max_workers) {
        log::line("TTIN: the low water mark is at the cap of ", p.max_workers, " already");
        return;
    }
    long step = sig == SIGTTIN ? 1 : -1;
    p.min_idle += step;
    p.max_idle += step;
    log::line(sig == SIGTTIN ? "TTIN" : "TTOU", ": water marks now min ", p.min_idle, ", max ",
              p.max_idle);
}
//! [move_marks]

}  // namespace forklab::ch04
