/// \file
/// \brief Parsing `--route`.
#include "route_config.hpp"

namespace forklab::ch06 {

std::optional<RouteConfig> parse_route(const std::string& text) {
    RouteConfig config;
    if (text == "path") {
        config.source = RouteConfig::Source::path;
        return config;
    }
    if (text.rfind("header:", 0) == 0 && text.size() > 7) {
        config.source = RouteConfig::Source::header;
        config.header = text.substr(7);
        return config;
    }
    return std::nullopt;
}

}  // namespace forklab::ch06
