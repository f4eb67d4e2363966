/// \file
/// \brief Deadlines for thousands of connections at O(1) per request: one FIFO list per timeout.
///
/// Every connection waiting for the same kind of event waits for the same duration (the idle
/// timeout, the read timeout ...), and is (re)armed at "now". So a list that appends at the tail is
/// sorted by deadline for free: the earliest deadline is always at the head, re-arming is an
/// unlink and an append, and expiry pops from the head. No heap, no allocation, no scan of idle
/// connections on every turn of the loop (nginx keeps a red-black tree; the lists are enough when
/// the durations are few and fixed).
#pragma once

#include <chrono>

namespace forklab::ch05 {

/// The clock of every deadline.
using Clock = std::chrono::steady_clock;

class TimerList;

/// What a connection embeds to sit in one TimerList at a time.
struct TimerHook {
    TimerHook* prev = nullptr;   ///< Towards the head (earlier deadlines).
    TimerHook* next = nullptr;   ///< Towards the tail.
    TimerList* list = nullptr;   ///< The list it is in, or nullptr.
    Clock::time_point deadline;  ///< When it expires.
};

/// Hooks armed with one fixed duration, earliest deadline first.
class TimerList {
  public:
    /// A list whose entries expire \p duration after they are armed.
    explicit TimerList(std::chrono::milliseconds duration) : duration_(duration) {}
    TimerList(const TimerList&) = delete;
    TimerList& operator=(const TimerList&) = delete;

    /// Arms \p hook to expire at \p now + duration, moving it out of any list it was in.
    void arm(TimerHook& hook, Clock::time_point now) {
        if (hook.list != nullptr) {
            hook.list->remove(hook);
        }
        hook.deadline = now + duration_;
        hook.list = this;
        hook.prev = tail_;
        hook.next = nullptr;
        (tail_ != nullptr ? tail_->next : head_) = &hook;
        tail_ = &hook;
    }

    /// Takes \p hook out of this list (it must be in it).
    void remove(TimerHook& hook) {
        (hook.prev != nullptr ? hook.prev->next : head_) = hook.next;
        (hook.next != nullptr ? hook.next->prev : tail_) = hook.prev;
        hook.prev = hook.next = nullptr;
        hook.list = nullptr;
    }

    /// The entry with the earliest deadline, or nullptr when empty.
    [[nodiscard]] TimerHook* front() const { return head_; }

  private:
    std::chrono::milliseconds duration_;
    TimerHook* head_ = nullptr;
    TimerHook* tail_ = nullptr;
};

/// Takes \p hook out of whatever list it is in (none: nothing happens).
inline void disarm(TimerHook& hook) {
    if (hook.list != nullptr) {
        hook.list->remove(hook);
    }
}

}  // namespace forklab::ch05
