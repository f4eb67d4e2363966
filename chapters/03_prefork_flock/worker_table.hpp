/// \file
/// \brief The master's table of its workers, and how it stops one: ask, repeat, then SIGKILL.
///
/// A stop request sent as one signal can be lost: a worker that checks its flag and then blocks in
/// a call that watches no descriptor (flock, fcntl F_SETLKW, a mutex) sleeps through a signal
/// that landed between the check and the call, and no "pflock" exists to close that window the way
/// pselect closes it for select. So the request lives here, in the master, not in the signal: the
/// master repeats the signal until the worker is reaped, and sends SIGKILL once the worker's
/// deadline passes (pitfall 16: a graceful stop is bounded).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <map>
#include <optional>

namespace forklab::ch03 {

/// One live worker as the master sees it.
struct WorkerEntry {
    using Clock = std::chrono::steady_clock;  ///< The clock of every time point here.

    pid_t pid = 0;                  ///< The worker.
    std::size_t slot = 0;           ///< Its scoreboard slot.
    unsigned generation = 0;        ///< The HUP generation it was started in.
    Clock::time_point spawned{};    ///< When it was forked.
    int stop_signal = 0;            ///< The signal it was asked to stop with; 0: not asked.
    Clock::time_point resend_at{};  ///< When the stop signal is sent again.
    Clock::time_point kill_at{};    ///< When SIGKILL follows.
    bool killed = false;            ///< SIGKILL was sent: whatever it did next, it died of us.

    /// True once the worker was asked to stop.
    [[nodiscard]] bool stopping() const { return stop_signal != 0; }
};

/// The live workers of a pool, keyed by pid, with their stop escalation.
///
/// Master only. Every signal goes to a pid that is still in the table, that is, to a child that
/// has not been reaped yet: its pid cannot have been recycled (a zombie keeps its pid), so the
/// table never signals a stranger.
class WorkerTable {
  public:
    using Clock = WorkerEntry::Clock;          ///< The clock of every time point here.
    using Map = std::map<pid_t, WorkerEntry>;  ///< The table itself.

    /// \p resend: how often a stop signal is repeated until the worker is reaped.
    explicit WorkerTable(std::chrono::milliseconds resend = std::chrono::milliseconds(100))
        : resend_(resend) {}

    /// Records a worker just forked.
    WorkerEntry& add(pid_t pid, std::size_t slot, unsigned generation);
    /// The worker \p pid, or nullptr.
    [[nodiscard]] WorkerEntry* find(pid_t pid);
    /// Forgets \p pid once it has been reaped and returns what the table knew (nothing for a pid
    /// it does not know). Call it for every reaped child, before anything else uses the pid.
    std::optional<WorkerEntry> remove(pid_t pid);

    /// Workers alive (stopping or not).
    [[nodiscard]] std::size_t size() const { return workers_.size(); }
    /// Workers alive that were not asked to stop: the ones that count towards the pool's size.
    [[nodiscard]] std::size_t serving() const;
    /// True when \p pid is in the table and was not asked to stop: it serves, and a rolling
    /// restart has yet to replace it.
    [[nodiscard]] bool serving(pid_t pid) const;
    /// The table, for iteration (read-only).
    [[nodiscard]] const Map& all() const { return workers_; }

    /// Asks \p pid to stop with \p sig (SIGQUIT, SIGHUP, SIGTERM ...): sends it now, repeats it
    /// every resend interval until the worker is reaped, and sends SIGKILL once \p grace has
    /// passed. Asking again replaces the signal and keeps the earlier of the two deadlines, so a
    /// stop can be hurried, never delayed. Returns false for an unknown pid.
    bool stop(pid_t pid, int sig, std::chrono::milliseconds grace);
    /// stop() for every worker in the table.
    void stop_all(int sig, std::chrono::milliseconds grace);
    /// Sends \p sig once to every worker in the table (SIGUSR1: reopen the log).
    void signal_all(int sig) const;

    /// Repeats the stop signals that are due and sends the SIGKILLs that are due (logging each
    /// kill). Returns when it wants to be called again: Clock::time_point::max() when no worker is
    /// stopping. The master calls it in every turn of its loop and sleeps no longer than that.
    Clock::time_point enforce(Clock::time_point now = Clock::now());

  private:
    Map workers_;
    std::chrono::milliseconds resend_;
};

}  // namespace forklab::ch03
