/// \file
/// \brief HUP: replace every worker of a pool, one at a time, without refusing a connection.
///
/// The master starts the replacement first and only then asks the old worker to leave, so the pool
/// never has fewer workers than its size; it moves to the next old worker once this one has been
/// reaped. The listening socket is never closed, so a client arriving meanwhile waits in its queue
/// for whichever worker comes next.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <deque>
#include <functional>
#include <optional>
#include <vector>

namespace forklab::ch03 {

/// The state of one round of replacements (master only).
class RollingRestart {
  public:
    /// Starts a round that replaces \p old, in that order. A round already in progress is
    /// replaced by this one, except that the worker being replaced now goes on leaving (it stays
    /// the current one).
    void begin(const std::vector<pid_t>& old);

    /// When no worker is being replaced now, picks the next one of the round that \p in_pool still
    /// reports as a member of the pool (workers that died meanwhile are skipped) and makes it the
    /// current one. The caller then starts its replacement and asks it to leave. Returns nothing
    /// while a replacement is in progress or when the round is over.
    std::optional<pid_t> next(const std::function<bool(pid_t)>& in_pool);

    /// Tells the round that \p pid has ended. Returns true when it was the current one: the caller
    /// calls next() to go on.
    bool ended(pid_t pid);

    /// Drops the round (a stop has begun).
    void cancel();

    /// True while a round is in progress.
    [[nodiscard]] bool active() const { return current_ != 0 || !queue_.empty(); }

  private:
    std::deque<pid_t> queue_;
    pid_t current_ = 0;
};

}  // namespace forklab::ch03
