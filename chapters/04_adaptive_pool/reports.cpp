/// \file
/// \brief Reports: the master's view of its workers, built from their records.
#include "reports.hpp"

#include <algorithm>

namespace forklab::ch04 {

void Reports::expect(pid_t pid, Clock::time_point now) {
    Heard h;
    h.at = now;
    heard_[pid] = h;
    gone_.erase(std::remove(gone_.begin(), gone_.end(), pid), gone_.end());
}

//! [take]
bool Reports::take(const Record& record, Clock::time_point now) {
    if (!well_formed(record)) {
        return false;
    }
    auto it = heard_.find(record.pid);
    if (it == heard_.end()) {
        return std::find(gone_.begin(), gone_.end(), record.pid) !=
               gone_.end();  // a dead worker's last words, or a stranger
    }
    Heard& h = it->second;
    h.spoke = true;
    h.said = record.kind;
    h.at = now;
    h.requests = record.requests;
    return true;
}
//! [take]

const Heard* Reports::find(pid_t pid) const {
    auto it = heard_.find(pid);
    return it == heard_.end() ? nullptr : &it->second;
}

std::optional<Heard> Reports::forget(pid_t pid) {
    auto node = heard_.extract(pid);
    if (node.empty()) {
        return std::nullopt;
    }
    gone_.push_back(pid);
    if (gone_.size() > 256) {
        gone_.pop_front();  // pids are recycled eventually: remember only recent ones
    }
    return node.mapped();
}

//! [silent]
std::vector<pid_t> Reports::silent(Clock::time_point now, std::chrono::milliseconds timeout) const {
    std::vector<pid_t> hung;
    for (const auto& [pid, h] : heard_) {
        bool working = !h.spoke || h.said == RecordKind::busy;
        if (working && now - h.at > timeout) {
            hung.push_back(pid);
        }
    }
    return hung;
}
//! [silent]

}  // namespace forklab::ch04
