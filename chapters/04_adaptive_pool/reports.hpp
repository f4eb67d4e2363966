/// \file
/// \brief The master's side of the pipe: what each worker last said, and which ones went silent.
///
/// Heartbeats: a worker waiting for a connection sleeps in the kernel (flock, poll), where nothing
/// can hang, and says nothing until a client comes; a worker that is starting or serving must get
/// back to its loop, and every record it sends on the way is a sign of life. So a worker whose
/// last word was "busy" (or that has said nothing since its fork) and that stays silent for longer
/// than the heartbeat timeout is hung: stuck in a request, or in its setup.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <vector>

#include "records.hpp"

namespace forklab::ch04 {

/// What the master last heard from one worker.
struct Heard {
    using Clock = std::chrono::steady_clock;  ///< The clock of every time point here.

    bool spoke = false;                  ///< It has sent a record (it got past its setup).
    RecordKind said = RecordKind::idle;  ///< Its last record (meaningful once spoke).
    Clock::time_point at{};              ///< When it was heard last (or forked).
    std::uint64_t requests = 0;          ///< Connections it had served then.

    /// Waiting for a connection, as far as the master knows (a starting worker counts as idle:
    /// it will be soon, and spawning more for it would overshoot).
    [[nodiscard]] bool idle() const { return !spoke || said == RecordKind::idle; }
};

/// The latest record of every live worker. Master only.
class Reports {
  public:
    using Clock = Heard::Clock;  ///< The clock of every time point here.

    /// A worker was just forked: expect records from \p pid.
    void expect(pid_t pid, Clock::time_point now = Clock::now());
    /// Takes one record. Returns false for a record no worker of ours could have sent (malformed,
    /// or from an unknown pid); a late record of a worker already reaped is ignored quietly.
    bool take(const Record& record, Clock::time_point now = Clock::now());
    /// What \p pid said last, or nullptr.
    [[nodiscard]] const Heard* find(pid_t pid) const;
    /// Forgets \p pid once it has been reaped, returning what it said last.
    std::optional<Heard> forget(pid_t pid);
    /// Workers starting or busy and silent for longer than \p timeout: hung.
    [[nodiscard]] std::vector<pid_t> silent(Clock::time_point now,
                                            std::chrono::milliseconds timeout) const;

  private:
    std::map<pid_t, Heard> heard_;
    std::deque<pid_t>
        gone_;  // reaped lately, oldest first: records they wrote before exiting may still come
};

}  // namespace forklab::ch04
