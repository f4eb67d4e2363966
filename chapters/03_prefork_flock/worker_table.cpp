/// \file
/// \brief WorkerTable: the master's workers and their stop escalation.
#include "worker_table.hpp"

#include <algorithm>
#include <csignal>

#include "forklab/log.hpp"

namespace forklab::ch03 {

WorkerEntry& WorkerTable::add(pid_t pid, std::size_t slot, unsigned generation) {
    WorkerEntry w;
    w.pid = pid;
    w.slot = slot;
    w.generation = generation;
    w.spawned = Clock::now();
    return workers_[pid] = w;
}

WorkerEntry* WorkerTable::find(pid_t pid) {
    auto it = workers_.find(pid);
    return it == workers_.end() ? nullptr : &it->second;
}

std::optional<WorkerEntry> WorkerTable::remove(pid_t pid) {
    auto it = workers_.find(pid);
    if (it == workers_.end()) {
        return std::nullopt;
    }
    WorkerEntry w = it->second;
    workers_.erase(it);
    return w;
}

std::size_t WorkerTable::serving() const {
    return static_cast<std::size_t>(std::count_if(
        workers_.begin(), workers_.end(), [](const auto& e) { return !e.second.stopping(); }));
}

bool WorkerTable::serving(pid_t pid) const {
    auto it = workers_.find(pid);
    return it != workers_.end() && !it->second.stopping();
}

//! [stop]
bool WorkerTable::stop(pid_t pid, int sig, std::chrono::milliseconds grace) {
    WorkerEntry* w = find(pid);
    if (w == nullptr) {
        return false;
    }
    auto now = Clock::now();
    auto kill_at = now + grace;
    w->kill_at = w->stopping() ? std::min(w->kill_at, kill_at) : kill_at;
    w->stop_signal = sig;
    w->resend_at = now + resend_;
    ::kill(pid, sig);
    return true;
}
//! [stop]

void WorkerTable::stop_all(int sig, std::chrono::milliseconds grace) {
    for (auto& [pid, w] : workers_) {
        stop(pid, sig, grace);
    }
}

void WorkerTable::signal_all(int sig) const {
    for (const auto& [pid, w] : workers_) {
        ::kill(pid, sig);
    }
}

//! [enforce]
WorkerTable::Clock::time_point WorkerTable::enforce(Clock::time_point now) {
    auto next = Clock::time_point::max();
    for (auto& [pid, w] : workers_) {
        if (!w.stopping()) {
            continue;
        }
        if (now >= w.kill_at && !w.killed) {
            log::line("worker ", pid, " still there after its stop deadline: SIGKILL");
            ::kill(pid, SIGKILL);
            w.killed = true;
        } else if (now >= w.resend_at && !w.killed) {
            // The first signal may have landed just before the worker blocked where it cannot
            // see it; this one interrupts that wait.
            ::kill(pid, w.stop_signal);
            w.resend_at = now + resend_;
        }
        if (!w.killed) {
            next = std::min({next, w.resend_at, w.kill_at});
        }
    }
    return next;
}
//! [enforce]

}  // namespace forklab::ch03
