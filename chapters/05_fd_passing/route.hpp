/// \file
/// \brief Key routing: which worker owns the connections that carry a given key.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "forklab/http.hpp"

namespace forklab::ch05 {

/// Where the routing key comes from (`--route`).
struct RouteConfig {
    /// Where the key is read: nowhere, a header, or the first path segment.
    enum class Source { none, header, path } source = Source::none;  ///< Off, a header, the path.
    std::string header;  ///< The header's name, for Source::header.
};

/// "header:NAME" or "path" -> the configuration; nothing for anything else.
std::optional<RouteConfig> parse_route(const std::string& text);

/// The key \p request carries: the header's value, or the first path segment ("/a/b" -> "a").
/// Nothing when routing is off or the request carries no key.
std::optional<std::string> route_key(const http::Request& request, const RouteConfig& config);

/// The index of the worker, among \p workers, that owns \p key (FNV-1a, stable across processes).
std::size_t owner_of(std::string_view key, std::size_t workers);

}  // namespace forklab::ch05
