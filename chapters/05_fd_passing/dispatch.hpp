/// \file
/// \brief Least-loaded dispatch: which worker gets the next connection (a pure function).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace forklab::ch05 {

/// Most workers the master can dispatch to (one bit each in a "tried" mask).
inline constexpr std::size_t max_workers = 64;

/// One worker as dispatch sees it.
struct Candidate {
    unsigned long load = 0;  ///< Connections passed to it and not yet closed by it.
    bool ready = false;      ///< Alive, and neither leaving nor dead.
    bool starting = false;   ///< Forked, not yet in its loop: chosen only when no started one can.
};

/// The index of the ready candidate with the lowest load that is below \p cap and whose bit is
/// not set in \p tried, started ones before starting ones; candidates.size() when there is none.
/// Among equal loads the first one found scanning from \p start (wrapping around) wins, so a
/// caller that advances \p start makes idle workers take turns instead of sending everything to
/// worker 0. At most max_workers candidates.
std::size_t least_loaded(std::span<const Candidate> candidates, std::size_t start,
                         std::uint64_t tried, unsigned long cap);

}  // namespace forklab::ch05
