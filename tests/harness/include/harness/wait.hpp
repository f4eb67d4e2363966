/// \file
/// \brief Polling with a deadline: the only way tests wait for something.
#pragma once

#include <chrono>
#include <thread>

namespace forklab::test {

using namespace std::chrono_literals;

/// Checks \p condition every \p interval until it holds or \p timeout passes. Returns whether it
/// held. This is polling with a deadline, never a sleep that hopes something has happened.
template <typename Condition>
bool eventually(Condition condition, std::chrono::milliseconds timeout = 10s,
                std::chrono::milliseconds interval = 5ms) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        if (condition()) {
            return true;
        }
        if (std::chrono::steady_clock::now() >= deadline) {
            return false;
        }
        std::this_thread::sleep_for(interval);
    }
}

}  // namespace forklab::test
