/// \file
/// \brief StartFailures: doubling back-off with a limit.
#include "start_failures.hpp"

#include <algorithm>

namespace forklab::ch03 {

std::optional<long> StartFailures::failed() {
    ++count_;
    if (count_ >= limit_) {
        return std::nullopt;
    }
    long delay = first_ms_;
    for (int i = 1; i < count_ && delay < cap_ms_; ++i) {
        delay *= 2;
    }
    return std::min(delay, cap_ms_);
}

}  // namespace forklab::ch03
