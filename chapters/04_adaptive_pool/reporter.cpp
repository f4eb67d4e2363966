/// \file
/// \brief Reporter: slot changes in, records out.
#include "reporter.hpp"

#include <unistd.h>

namespace forklab::ch04 {

int record_kind_of(ch03::SlotState state) {
    switch (state) {
        case ch03::SlotState::waiting:
        case ch03::SlotState::accepting:
            return static_cast<int>(RecordKind::idle);
        case ch03::SlotState::busy:
            return static_cast<int>(RecordKind::busy);
        case ch03::SlotState::exiting:
            return static_cast<int>(RecordKind::exiting);
        case ch03::SlotState::free:
        case ch03::SlotState::starting:
            break;
    }
    return 0;
}

//! [changed]
void Reporter::changed(const ch03::Slot& slot) {
    int kind = record_kind_of(static_cast<ch03::SlotState>(slot.state.load()));
    if (kind == 0 || kind == last_ || fd_ < 0) {
        return;  // waiting -> accepting is idle -> idle: nothing the master counts has changed
    }
    if (pid_ == 0) {
        pid_ = ::getpid();  // once: getpid is a system call
    }
    Record r{
        static_cast<std::int32_t>(pid_), static_cast<RecordKind>(kind), {}, slot.requests.load()};
    if (!send_record(fd_, r)) {
        fd_ = -1;  // the master is gone; PR_SET_PDEATHSIG ends this worker
        return;
    }
    last_ = kind;
}
//! [changed]

}  // namespace forklab::ch04
