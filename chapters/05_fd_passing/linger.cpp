/// \file
/// \brief Lingering: after an error or an unread body, half-close and drain what the client still
/// sends, so that the close does not turn into a reset that destroys the response in flight.
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "connection.hpp"

namespace forklab::ch05 {

void Connections::linger(Conn& c, Clock::time_point now) {
    if (::shutdown(c.fd.get(), SHUT_WR) == -1) {  // the client sees end-of-file after the response
        close(c);                                 // ENOTCONN: it is gone already
        return;
    }
    c.phase = Conn::Phase::lingering;
    c.drained = 0;
    if (c.interest != EPOLLIN && !watch(c, EPOLLIN)) {
        close(c);
        return;
    }
    lingering_.arm(c, now);
}

void Connections::drain(Conn& c) {
    char sink[16384];
    ssize_t n = ::read(c.fd.get(), sink, sizeof sink);
    if (n > 0) {
        c.drained += static_cast<std::size_t>(n);
    }
    if (n == 0 || (n == -1 && errno != EAGAIN && errno != EINTR) || c.drained > linger_bytes) {
        close(c);
    }
}

}  // namespace forklab::ch05
