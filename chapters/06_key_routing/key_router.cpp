/// \file
/// \brief The key router: what a worker takes from its channel, and what the master does with a
/// connection handed back to it.
#include "key_router.hpp"

#include <span>
#include <sstream>

#include "route.hpp"

namespace forklab::ch06 {

using ch05::RecvStatus;

KeyRouter::KeyRouter(RouteConfig route) : route_(std::move(route)), stats_("routing counts") {}

//! [take]
RecvStatus KeyRouter::take(const ch05::ThisWorker& me, ch05::Arrival& arrival) {
    std::size_t size = 0;
    RecvStatus status = ch05::recv_fd(me.channel, &message_, sizeof message_, size, arrival.conn);
    if (status != RecvStatus::received) {
        return status;
    }
    // A new connection: chapter 05's message, which is the command alone.
    if (ch05::valid(ch05::Message{static_cast<ch05::Command>(message_.command)}, size)) {
        arrival.read = {};
        arrival.reroutable = route_.source != RouteConfig::Source::none && me.workers > 1;
        return status;
    }
    if (valid(message_, size) && message_.command == Command::forward) {
        // Routed here already: what the first worker read is parsed first, so not a byte of the
        // request is lost, and it is never handed back again.
        arrival.read = {message_.data, message_.bytes};
        arrival.reroutable = false;
        return status;
    }
    arrival.conn.reset();  // a hand-back from the master, or garbage: its client sees a close
    return RecvStatus::bad;
}
//! [take]

std::optional<std::size_t> KeyRouter::owner(const ch05::ThisWorker& me,
                                            const http::Request& request) {
    return elsewhere(request, route_, me);
}

bool KeyRouter::hand_back(const ch05::ThisWorker& me, std::size_t owner, std::string_view read,
                          Fd& conn) {
    return ch06::hand_back(me, owner, read, conn, message_);
}

//! [forward]
RecvStatus KeyRouter::on_channel(int channel, ch05::Dispatcher& master) {
    Fd conn;
    std::size_t size = 0;
    RecvStatus status = ch05::recv_fd(channel, &message_, sizeof message_, size, conn);
    if (status != RecvStatus::received) {
        return status;
    }
    if (!valid(message_, size) || message_.command != Command::hand_back) {
        return RecvStatus::bad;  // conn closes here
    }
    ++stats_.get().handed_back;
    message_.command = Command::forward;  // the bytes it read travel on with it
    std::span<const char> forward(reinterpret_cast<const char*>(&message_), wire_size(message_));
    if (master.pass_to(message_.owner, forward, conn)) {
        ++stats_.get().forwarded;
        return status;
    }
    // The owner cannot take it now (its channel is full, or it is being replaced): any worker
    // serves it rather than none. As a forward it will not be handed back again.
    ++stats_.get().rerouted;
    master.dispatch(forward, std::move(conn));
    return status;
}
//! [forward]

std::string KeyRouter::status(bool json) const {
    const RoutingStats& s = stats_.get();
    std::ostringstream out;
    if (json) {
        out << "\"routing\":{\"handed_back\":" << s.handed_back << ",\"forwarded\":" << s.forwarded
            << ",\"rerouted\":" << s.rerouted << "}";
    } else {
        out << "routing: handed back " << s.handed_back << ", forwarded " << s.forwarded
            << ", rerouted " << s.rerouted;
    }
    return out.str();
}

}  // namespace forklab::ch06
