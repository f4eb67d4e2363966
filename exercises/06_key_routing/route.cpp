/// \file
/// \brief Exercise 06: route a connection by its key. Your version of route_key, owner_of,
/// elsewhere and hand_back (the contracts are in chapters/06_key_routing/route.hpp).
///
/// This starter compiles and the server built with it (ex06_key_routing) starts and answers, but
/// its routing is wrong in several ways: find them all (see the README).
#include <cstdint>

#include "route.hpp"

namespace forklab::ch06 {

std::optional<std::string> route_key(const http::Request& request, const RouteConfig& config) {
    if (config.source == RouteConfig::Source::header) {
        auto value = request.header(config.header);
        return value ? std::optional<std::string>(*value) : std::nullopt;
    }
    if (config.source == RouteConfig::Source::path) {
        return std::string(request.path());  // the whole path
    }
    return std::nullopt;
}

std::size_t owner_of(std::string_view key, std::size_t workers) {
    return workers == 0 ? 0 : key.size() % workers;
}

std::optional<std::size_t> elsewhere(const http::Request& request, const RouteConfig& config,
                                     const ch05::ThisWorker& me) {
    std::optional<std::string> key = route_key(request, config);
    if (!key) {
        return std::nullopt;
    }
    return owner_of(*key, me.workers);
}

bool hand_back(const ch05::ThisWorker& me, std::size_t owner, std::string_view /*read*/, Fd& conn,
               CarriedMessage& message) {
    // The request is still in the socket, isn't it? The owner will read it.
    message.command = Command::hand_back;
    message.owner = static_cast<std::uint32_t>(owner);
    message.bytes = 0;
    return ch05::send_fd(me.channel, &message, wire_size(message), conn) == ch05::SendStatus::sent;
}

}  // namespace forklab::ch06
