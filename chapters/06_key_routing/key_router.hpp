/// \file
/// \brief Chapter 06's Router: sticky routing by key, plugged into chapter 05's master and
/// workers.
#pragma once

#include <atomic>

#include "05_fd_passing/router.hpp"
#include "05_fd_passing/shared_memory.hpp"
#include "carried_message.hpp"
#include "route_config.hpp"

namespace forklab::ch06 {

/// What the master did with handed-back connections. Written by the master only; shared so that
/// every worker's /status shows it.
struct RoutingStats {
    std::atomic<unsigned long> handed_back{0};  ///< Connections a worker handed back (not its key).
    std::atomic<unsigned long> forwarded{0};    ///< Handed-back connections passed to their owner.
    std::atomic<unsigned long> rerouted{0};     ///< Handed-back ones the owner could not take,
                                                ///< passed to another worker instead.
};

/// One key, one worker: a connection whose first request carries another worker's key goes back
/// to the master, with the bytes already read, and on to its owner.
class KeyRouter final : public ch05::Router {
  public:
    /// Routes by \p route. Maps its counts in shared memory: make it before the first fork.
    /// Throws std::system_error naming mmap.
    explicit KeyRouter(RouteConfig route);

    ch05::RecvStatus take(const ch05::ThisWorker& me, ch05::Arrival& arrival) override;
    std::optional<std::size_t> owner(const ch05::ThisWorker& me,
                                     const http::Request& request) override;
    bool hand_back(const ch05::ThisWorker& me, std::size_t owner, std::string_view read,
                   Fd& conn) override;
    ch05::RecvStatus on_channel(int channel, ch05::Dispatcher& master) override;
    [[nodiscard]] std::string status(bool json) const override;

  private:
    RouteConfig route_;
    ch05::Shared<RoutingStats> stats_;
    CarriedMessage message_;  // every message is read into (or built in) this one buffer
};

}  // namespace forklab::ch06
