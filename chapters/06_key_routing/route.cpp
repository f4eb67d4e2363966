/// \file
/// \brief The reference routing decision and hand-back (exercise 06's seam).
#include "route.hpp"

#include <cstdint>
#include <cstring>

namespace forklab::ch06 {

//! [route_key]
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
//! [route_key]

//! [elsewhere]
std::optional<std::size_t> elsewhere(const http::Request& request, const RouteConfig& config,
                                     const ch05::ThisWorker& me) {
    std::optional<std::string> key = route_key(request, config);
    if (!key) {
        return std::nullopt;  // no key: served wherever it landed
    }
    std::size_t owner = owner_of(*key, me.workers);
    if (owner == me.index) {
        return std::nullopt;
    }
    return owner;
}
//! [elsewhere]

//! [hand_back]
bool hand_back(const ch05::ThisWorker& me, std::size_t owner, std::string_view read, Fd& conn,
               CarriedMessage& message) {
    if (read.size() > max_carried) {
        return false;  // cannot travel whole: it is served where it is
    }
    message.command = Command::hand_back;
    message.owner = static_cast<std::uint32_t>(owner);
    message.bytes = static_cast<std::uint32_t>(read.size());
    message.reserved = 0;
    std::memcpy(message.data, read.data(), read.size());
    return ch05::send_fd(me.channel, &message, wire_size(message), conn) == ch05::SendStatus::sent;
}
//! [hand_back]

}  // namespace forklab::ch06
