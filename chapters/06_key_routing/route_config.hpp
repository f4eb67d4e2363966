/// \file
/// \brief Where a connection's routing key comes from (`--route`).
#pragma once

#include <optional>
#include <string>

namespace forklab::ch06 {

/// Where the routing key comes from.
struct RouteConfig {
    /// Off, a request header, or the first segment of the path.
    enum class Source { none, header, path };
    Source source = Source::none;  ///< Where the key is.
    std::string header;            ///< The header's name, for Source::header.
};

/// "header:NAME" or "path" -> the configuration; nothing for anything else.
std::optional<RouteConfig> parse_route(const std::string& text);

}  // namespace forklab::ch06
