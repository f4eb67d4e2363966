/// \file
/// \brief The /status page of chapter 05.
#include "stats.hpp"

#include <sstream>

#include "router.hpp"

namespace forklab::ch05 {

std::string render_status(const ch03::Scoreboard& board, const DispatchStats& stats,
                          const Router* router, bool json) {
    std::ostringstream out;
    if (json) {
        out << "{\"design\":\"master passes connections to epoll workers\",\"workers\":"
            << board.render(true) << ",\"master\":{\"accepted\":" << stats.accepted
            << ",\"passed\":" << stats.passed << ",\"refused\":" << stats.refused
            << ",\"shed\":" << stats.shed << "}";
        if (router != nullptr) {
            out << "," << router->status(true);
        }
        out << "}\n";
    } else {
        out << "design: master passes connections to epoll workers\n"
            << board.render(false) << "master: accepted " << stats.accepted << ", passed "
            << stats.passed << ", refused (503) " << stats.refused << ", shed " << stats.shed
            << "\n";
        if (router != nullptr) {
            out << router->status(false) << "\n";
        }
    }
    return out.str();
}

}  // namespace forklab::ch05
