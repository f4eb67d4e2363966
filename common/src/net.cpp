/// \file
/// \brief Endpoint parsing and listening sockets.
#include "forklab/net.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <charconv>
#include <cstring>

#include "forklab/error.hpp"

namespace forklab {

namespace {

/// A sockaddr large enough for IPv4 and IPv6, with its used length.
struct SockAddr {
    sockaddr_storage storage{};
    socklen_t len = 0;
    [[nodiscard]] const sockaddr* get() const {
        return reinterpret_cast<const sockaddr*>(&storage);
    }
};

std::optional<SockAddr> to_sockaddr(const Endpoint& at) {
    SockAddr out;
    auto* v4 = reinterpret_cast<sockaddr_in*>(&out.storage);
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&out.storage);
    if (::inet_pton(AF_INET, at.host.c_str(), &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(at.port);
        out.len = sizeof(sockaddr_in);
        return out;
    }
    if (::inet_pton(AF_INET6, at.host.c_str(), &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(at.port);
        out.len = sizeof(sockaddr_in6);
        return out;
    }
    return std::nullopt;
}

}  // namespace

std::string Endpoint::to_string() const {
    bool v6 = host.find(':') != std::string::npos;
    return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

std::optional<Endpoint> parse_endpoint(const std::string& text) {
    std::size_t colon = text.rfind(':');
    if (colon == std::string::npos || colon + 1 == text.size()) {
        return std::nullopt;
    }
    std::string host = text.substr(0, colon);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
        host = host.substr(1, host.size() - 2);
    } else if (host.find(':') != std::string::npos) {
        return std::nullopt;  // an IPv6 literal needs brackets: "[::1]:8080"
    }
    std::string_view digits(text.data() + colon + 1, text.size() - colon - 1);
    unsigned port = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
    if (ec != std::errc() || end != digits.data() + digits.size() || port > 65535) {
        return std::nullopt;
    }
    Endpoint at{host, static_cast<std::uint16_t>(port)};
    if (!to_sockaddr(at)) {
        return std::nullopt;
    }
    return at;
}

Fd listen_on(const Endpoint& at, const ListenOptions& options) {
    auto addr = to_sockaddr(at);
    if (!addr) {
        throw std::system_error(EINVAL, std::generic_category(),
                                "listen address " + at.host + " is not an IP literal");
    }
    int type = SOCK_STREAM | SOCK_CLOEXEC | (options.nonblock ? SOCK_NONBLOCK : 0);
    Fd sock(::socket(addr->storage.ss_family, type, 0));
    if (!sock) {
        throw_errno("socket " + at.to_string());
    }
    int one = 1;
    if (::setsockopt(sock.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == -1) {
        throw_errno("setsockopt SO_REUSEADDR " + at.to_string());
    }
    if (options.reuseport &&
        ::setsockopt(sock.get(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) == -1) {
        throw_errno("setsockopt SO_REUSEPORT " + at.to_string());
    }
    if (::bind(sock.get(), addr->get(), addr->len) == -1) {
        throw_errno("bind " + at.to_string());
    }
    if (::listen(sock.get(), options.backlog) == -1) {
        throw_errno("listen " + at.to_string());
    }
    return sock;
}

Endpoint local_endpoint(int fd) {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) == -1) {
        throw_errno("getsockname");
    }
    char text[INET6_ADDRSTRLEN] = {};
    Endpoint out;
    if (ss.ss_family == AF_INET6) {
        auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
        ::inet_ntop(AF_INET6, &v6->sin6_addr, text, sizeof text);
        out.port = ntohs(v6->sin6_port);
    } else {
        auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
        ::inet_ntop(AF_INET, &v4->sin_addr, text, sizeof text);
        out.port = ntohs(v4->sin_port);
    }
    out.host = text;
    return out;
}

}  // namespace forklab
