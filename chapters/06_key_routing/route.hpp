/// \file
/// \brief Chapter 06's seam: which worker owns a request's key, and handing a connection back to
/// the master for it.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "05_fd_passing/router.hpp"
#include "carried_message.hpp"
#include "forklab/fd.hpp"
#include "forklab/http.hpp"
#include "route_config.hpp"

namespace forklab::ch06 {

/// The key \p request carries: the header's value, or the first path segment ("/a/b" -> "a").
/// Nothing when routing is off or the request carries no key.
std::optional<std::string> route_key(const http::Request& request, const RouteConfig& config);

/// The index of the worker, among \p workers, that owns \p key: a hash that every process computes
/// alike (FNV-1a), modulo \p workers.
std::size_t owner_of(std::string_view key, std::size_t workers);

/// The routing decision, in the worker \p me that parsed \p request: the index of the worker that
/// owns the request's key when that is another worker; nothing when the request carries no key or
/// \p me owns it.
std::optional<std::size_t> elsewhere(const http::Request& request, const RouteConfig& config,
                                     const ch05::ThisWorker& me);

/// The hand-back: sends \p conn to the master on \p me's channel as a Command::hand_back for the
/// worker at \p owner, with \p read, every byte read from the connection so far, built in
/// \p message. True when sent (\p conn is empty: the master holds it now). False, \p conn still the
/// caller's, when \p read does not fit in a message (more than max_carried) or the channel cannot
/// take it now.
bool hand_back(const ch05::ThisWorker& me, std::size_t owner, std::string_view read, Fd& conn,
               CarriedMessage& message);

}  // namespace forklab::ch06
