/// \file
/// \brief Least-loaded dispatch.
#include "dispatch.hpp"

namespace forklab::ch05 {

//! [least_loaded]
std::size_t least_loaded(std::span<const Candidate> candidates, std::size_t start,
                         std::uint64_t tried, unsigned long cap) {
    std::size_t n = candidates.size();
    std::size_t best = n;
    for (std::size_t k = 0; k < n; ++k) {
        std::size_t i = (start + k) % n;
        const Candidate& c = candidates[i];
        if (!c.ready || c.load >= cap || (tried >> i & 1u) != 0) {
            continue;
        }
        // A starting worker's channel holds connections until it runs; a started one serves now.
        if (best == n || c.starting < candidates[best].starting ||
            (c.starting == candidates[best].starting && c.load < candidates[best].load)) {
            best = i;
        }
    }
    return best;
}
//! [least_loaded]

}  // namespace forklab::ch05
