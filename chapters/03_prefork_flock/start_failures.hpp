/// \file
/// \brief The master's answer to workers that keep dying at start-up: back off, then give up.
#pragma once

#include <optional>

namespace forklab::ch03 {

/// Counts workers that died before they could serve, in a row (pitfall 13: respawn storms).
///
/// Each failure doubles the delay before the next spawn (first_ms, 2*first_ms ... at most cap_ms);
/// after \p limit failures in a row the master should stop with a clear message. A worker that
/// starts properly resets the count.
class StartFailures {
  public:
    /// \p limit failures in a row mean "give up".
    explicit StartFailures(int limit, long first_ms = 100, long cap_ms = 2000)
        : limit_(limit), first_ms_(first_ms), cap_ms_(cap_ms) {}

    /// Records one more failure. Returns the delay before the next spawn, in ms, or nothing when
    /// it is time to give up.
    std::optional<long> failed();
    /// A worker started properly: the streak is over.
    void started() { count_ = 0; }
    /// Failures in the current streak.
    [[nodiscard]] int count() const { return count_; }
    /// The streak that means "give up".
    [[nodiscard]] int limit() const { return limit_; }

  private:
    int limit_;
    long first_ms_;
    long cap_ms_;
    int count_ = 0;
};

}  // namespace forklab::ch03
