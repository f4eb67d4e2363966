/// \file
/// \brief The scoreboard: one slot per worker in memory shared by the whole pool.
///
/// As in Apache and php-fpm, each worker writes only its own slot and the master only assigns and
/// frees slots, so no lock is needed: every field is a lock-free atomic. Any process of the pool
/// can read the whole board (a worker renders it for /status).
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstddef>
#include <string>

namespace forklab::ch03 {

/// What a worker is doing.
enum class SlotState : int {
    free = 0,   ///< No worker in this slot.
    starting,   ///< Forked, not yet waiting for connections.
    waiting,    ///< Waiting for the accept lock (chapter 03).
    accepting,  ///< Waiting in accept (idle).
    busy,       ///< Serving a connection.
    exiting,    ///< Leaving (max requests reached, or told to stop).
};

/// The name of a state ("waiting for the lock" ...).
const char* to_string(SlotState state);

/// One worker's line on the board.
struct Slot {
    std::atomic<pid_t> pid{0};                 ///< The worker (0 when free).
    std::atomic<int> state{0};                 ///< A SlotState.
    std::atomic<unsigned long> requests{0};    ///< Connections served.
    std::atomic<long> started_ms{0};           ///< CLOCK_MONOTONIC at start, in ms.
    std::atomic<unsigned> generation{0};       ///< Bumped by every HUP.
    std::atomic<unsigned long> open{0};        ///< Connections open (event-driven workers).
    std::atomic<unsigned long> dispatched{0};  ///< Connections the master passed to this worker
                                               ///< (written by the master only).
};

/// A fixed array of slots in an anonymous shared mapping, created by the master before forking.
class Scoreboard {
  public:
    /// Maps \p slots slots. Throws std::system_error naming mmap.
    explicit Scoreboard(std::size_t slots);
    ~Scoreboard();
    Scoreboard(const Scoreboard&) = delete;
    Scoreboard& operator=(const Scoreboard&) = delete;

    /// Slot \p i (i < size()).
    [[nodiscard]] Slot& slot(std::size_t i) const { return slots_[i]; }
    /// Number of slots.
    [[nodiscard]] std::size_t size() const { return size_; }
    /// A free slot's index, or size() when all are taken. Master only.
    [[nodiscard]] std::size_t find_free() const;

    /// The board as text (one row per worker: pid, state, requests, age) or as JSON.
    [[nodiscard]] std::string render(bool json) const;

    /// Milliseconds on CLOCK_MONOTONIC (the clock of started_ms).
    static long now_ms();

  private:
    Slot* slots_;
    std::size_t size_;
};

}  // namespace forklab::ch03
