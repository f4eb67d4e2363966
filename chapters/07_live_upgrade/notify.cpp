/// \file
/// \brief sd_notify(3) in a few lines: one datagram on an AF_UNIX socket.
#include "notify.hpp"

#include <sys/socket.h>
#include <sys/un.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>

#include "forklab/fd.hpp"

namespace forklab::ch07 {

//! [notify]
bool notify(const std::string& state) {
    const char* name = std::getenv("NOTIFY_SOCKET");
    if (name == nullptr || (name[0] != '/' && name[0] != '@')) {
        return false;
    }
    sockaddr_un to{};
    std::size_t len = std::strlen(name);
    if (len >= sizeof to.sun_path) {
        return false;
    }
    to.sun_family = AF_UNIX;
    std::memcpy(to.sun_path, name, len);
    if (name[0] == '@') {
        to.sun_path[0] = '\0';  // the abstract namespace: no file, the name starts after a 0 byte
    }
    // An abstract name is exactly its length; a path may include its terminating 0.
    auto size = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + len);
    Fd sock(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    return sock && ::sendto(sock.get(), state.data(), state.size(), MSG_NOSIGNAL,
                            reinterpret_cast<const sockaddr*>(&to),
                            size) == static_cast<ssize_t>(state.size());
}
//! [notify]

}  // namespace forklab::ch07
