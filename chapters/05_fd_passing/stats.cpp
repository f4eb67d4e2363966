/// \file
/// \brief Shared dispatch counts and the /status page.
#include "stats.hpp"

#include <sys/mman.h>

#include <new>
#include <sstream>

#include "forklab/error.hpp"

namespace forklab::ch05 {

SharedStats::SharedStats() {
    void* p = ::mmap(nullptr, sizeof(DispatchStats), PROT_READ | PROT_WRITE,
                     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        throw_errno("mmap dispatch stats");
    }
    stats_ = new (p) DispatchStats;  // lock-free atomics work across processes in shared memory
}

SharedStats::~SharedStats() {
    stats_->~DispatchStats();
    ::munmap(stats_, sizeof(DispatchStats));
}

std::string render_status(const ch03::Scoreboard& board, const DispatchStats& stats, bool json) {
    std::ostringstream out;
    if (json) {
        out << "{\"design\":\"master passes connections to epoll workers\",\"workers\":"
            << board.render(true) << ",\"master\":{\"accepted\":" << stats.accepted
            << ",\"passed\":" << stats.passed << ",\"handed_back\":" << stats.handed_back
            << ",\"forwarded\":" << stats.forwarded << ",\"rerouted\":" << stats.rerouted
            << ",\"refused\":" << stats.refused << ",\"shed\":" << stats.shed << "}}\n";
    } else {
        out << "design: master passes connections to epoll workers\n"
            << board.render(false) << "master: accepted " << stats.accepted << ", passed "
            << stats.passed << ", handed back " << stats.handed_back << ", forwarded "
            << stats.forwarded << ", rerouted " << stats.rerouted << ", refused (503) "
            << stats.refused << ", shed " << stats.shed << "\n";
    }
    return out.str();
}

}  // namespace forklab::ch05
