/// \file
/// \brief Endpoints ("HOST:PORT") and listening sockets.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "forklab/fd.hpp"

namespace forklab {

/// An IP address literal and a port. IPv6 literals are kept without brackets.
struct Endpoint {
    std::string host = "127.0.0.1";  ///< IPv4 or IPv6 literal.
    std::uint16_t port = 8080;       ///< 0 asks the kernel for a free port.

    /// "127.0.0.1:8080" or "[::1]:8080".
    [[nodiscard]] std::string to_string() const;
    /// Same host text and port.
    bool operator==(const Endpoint&) const = default;
};

/// Parses "HOST:PORT", "[V6]:PORT". Host names are not resolved: the host must be an IPv4 or
/// IPv6 literal. Returns nothing when the text is not of that form (the caller reports usage).
std::optional<Endpoint> parse_endpoint(const std::string& text);

/// Options for listen_on().
struct ListenOptions {
    int backlog = 1024;      ///< Accept queue length asked of listen(2).
    bool nonblock = false;   ///< Make the listening socket non-blocking.
    bool reuseport = false;  ///< Set SO_REUSEPORT (for designs where each process listens).
};

/// Creates a TCP socket bound to \p at and listening (SO_REUSEADDR set, close-on-exec).
/// Throws std::system_error naming the call and endpoint, e.g.
/// "bind 127.0.0.1:8080: Address already in use".
Fd listen_on(const Endpoint& at, const ListenOptions& options = {});

/// The address a socket is bound to (useful after binding port 0). Throws on failure.
Endpoint local_endpoint(int fd);

}  // namespace forklab
