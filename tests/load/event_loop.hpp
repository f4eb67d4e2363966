/// \file
/// \brief One thread's share of the load: connections driven from one epoll set.
#pragma once

#include "load_engine.hpp"

namespace forklab::load {

/// Runs \p config (its threads member ignored) in the calling thread, as run_load() describes,
/// and returns what happened. Throws std::system_error naming the call when epoll fails, and for
/// a target host that is not an IP literal.
LoadResult run_event_loop(const LoadConfig& config);

}  // namespace forklab::load
