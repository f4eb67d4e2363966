/// \file
/// \brief accept(2) with its errno values sorted into what the loop does next.
#include "acceptor.hpp"

#include <fcntl.h>
#include <sys/socket.h>

#include <cerrno>

#include "forklab/error.hpp"

namespace forklab::ch01 {

namespace {

Fd open_spare() {
    return Fd(::open("/dev/null", O_RDONLY | O_CLOEXEC));
}

}  // namespace

Acceptor::Acceptor(int listen_fd, bool nonblocking_connections)
    : listen_fd_(listen_fd), nonblocking_(nonblocking_connections), spare_(open_spare()) {
    if (!spare_) {
        throw_errno("open /dev/null (spare descriptor)");
    }
}

//! [accept]
AcceptResult Acceptor::accept() {
    int flags = SOCK_CLOEXEC | (nonblocking_ ? SOCK_NONBLOCK : 0);
    int fd = ::accept4(listen_fd_, nullptr, nullptr, flags);
    if (fd >= 0) {
        return {AcceptStatus::accepted, Fd(fd), 0};
    }
    int err = errno;
    switch (err) {
        case EAGAIN:
#if EAGAIN != EWOULDBLOCK
        case EWOULDBLOCK:
#endif
            return {AcceptStatus::would_block, Fd(), err};
        // Expected: a signal arrived, or the client reset before we took the connection, or
        // Linux passed up a network error pending on the new socket (accept(2), "Error handling").
        case EINTR:
        case ECONNABORTED:
        case EPROTO:
        case ENETDOWN:
        case ENOPROTOOPT:
        case EHOSTDOWN:
        case ENONET:
        case EHOSTUNREACH:
        case ENETUNREACH:
        case EPERM:  // a firewall rule refused it
            return {AcceptStatus::retry, Fd(), err};
        // Out of descriptors: the connection stays queued and the listener stays readable.
        case EMFILE:
        case ENFILE:
            return shed_one(err);
        case ENOBUFS:
        case ENOMEM:
            return {AcceptStatus::backoff, Fd(), err};
        // Anything else (EBADF, EINVAL, ENOTSOCK, EFAULT, EOPNOTSUPP) is a bug or a dead listener.
        default:
            throw_errno("accept", err);
    }
}
//! [accept]

//! [shed]
AcceptResult Acceptor::shed_one(int err) {
    if (!spare_) {
        spare_ = open_spare();  // a descriptor may have been freed since the last attempt
        return {AcceptStatus::backoff, Fd(), err};
    }
    spare_.reset();  // frees exactly one descriptor ...
    int victim = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);  // ... for the oldest
    int victim_err = errno;
    if (victim >= 0) {
        Fd(victim).reset();  // the client is told "no" by a close
    }
    spare_ = open_spare();  // the slot is free again: take it back for next time
    if (victim >= 0) {
        return {AcceptStatus::shed, Fd(), err};
    }
    // Linux reports EMFILE before it looks at the queue: an empty queue says so only now.
    if (victim_err == EAGAIN || victim_err == EWOULDBLOCK) {
        return {AcceptStatus::would_block, Fd(), victim_err};
    }
    return {AcceptStatus::backoff, Fd(), victim_err};
}
//! [shed]

}  // namespace forklab::ch01
