/// \file
/// \brief Routing keys.
#include "route.hpp"

#include <cstdint>

namespace forklab::ch05 {

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

std::optional<std::string> route_key(const http::Request& request, const RouteConfig& config) {
    if (config.source == RouteConfig::Source::header) {
        if (auto value = request.header(config.header); value && !value->empty()) {
            return std::string(*value);
        }
        return std::nullopt;
    }
    if (config.source == RouteConfig::Source::path) {
        std::string_view path = request.path().substr(1);
        std::string_view first = path.substr(0, path.find('/'));
        return first.empty() ? std::nullopt : std::optional<std::string>(first);
    }
    return std::nullopt;
}

std::size_t owner_of(std::string_view key, std::size_t workers) {
    std::uint64_t hash = 14695981039346656037ull;
    for (char c : key) {
        hash = (hash ^ static_cast<unsigned char>(c)) * 1099511628211ull;
    }
    return workers == 0 ? 0 : static_cast<std::size_t>(hash % workers);
}

}  // namespace forklab::ch05
