/// \file
/// \brief HeldSignals and release_held().
#include "forklab/held_signals.hpp"

namespace forklab {

namespace {

sigset_t set_of(std::initializer_list<int> signals) {
    sigset_t set;
    sigemptyset(&set);
    for (int sig : signals) {
        sigaddset(&set, sig);
    }
    return set;
}

}  // namespace

HeldSignals::HeldSignals(std::initializer_list<int> signals) {
    sigset_t set = set_of(signals);
    ::sigprocmask(SIG_BLOCK, &set, &previous_);
}

HeldSignals::~HeldSignals() {
    ::sigprocmask(SIG_SETMASK, &previous_, nullptr);
}

void release_held(std::initializer_list<int> signals) {
    sigset_t set = set_of(signals);
    ::sigprocmask(SIG_UNBLOCK, &set, nullptr);
}

}  // namespace forklab
