/// \file
/// \brief RollingRestart: one old worker at a time.
#include "rolling_restart.hpp"

#include <algorithm>

namespace forklab::ch03 {

void RollingRestart::begin(const std::vector<pid_t>& old) {
    queue_.clear();
    for (pid_t pid : old) {
        if (pid != current_ && std::find(queue_.begin(), queue_.end(), pid) == queue_.end()) {
            queue_.push_back(pid);
        }
    }
}

std::optional<pid_t> RollingRestart::next(const std::function<bool(pid_t)>& in_pool) {
    if (current_ != 0) {
        return std::nullopt;
    }
    while (!queue_.empty()) {
        pid_t pid = queue_.front();
        queue_.pop_front();
        if (in_pool(pid)) {
            current_ = pid;
            return pid;
        }
    }
    return std::nullopt;
}

bool RollingRestart::ended(pid_t pid) {
    queue_.erase(std::remove(queue_.begin(), queue_.end(), pid), queue_.end());
    if (pid != 0 && pid == current_) {
        current_ = 0;
        return true;
    }
    return false;
}

void RollingRestart::cancel() {
    queue_.clear();
    current_ = 0;
}

}  // namespace forklab::ch03
