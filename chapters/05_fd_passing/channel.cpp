/// \file
/// \brief The reference channel (exercise 05's seam): SCM_RIGHTS done carefully.
#include "channel.hpp"

#include <sys/socket.h>

#include <cerrno>
#include <cstring>

namespace forklab::ch05 {

namespace {

//! [control]
/// Room for one control message holding one descriptor. CMSG_SPACE adds the header and the
/// padding the kernel expects; the union aligns the buffer for struct cmsghdr, which a plain char
/// array does not promise.
union Control {
    char buf[CMSG_SPACE(sizeof(int))];
    cmsghdr align;
};
//! [control]

/// Closes every descriptor of every SCM_RIGHTS message in \p msg (an error path must not leak
/// what the kernel already installed in this process).
void close_received(msghdr& msg) {
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS ||
            c->cmsg_len < CMSG_LEN(0)) {
            continue;
        }
        std::size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (std::size_t i = 0; i < n; ++i) {
            int fd = -1;
            std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
            Fd(fd).reset();
        }
    }
}

}  // namespace

//! [send]
SendStatus send_fd(int channel, const void* data, std::size_t size, Fd& fd) {
    iovec iov{const_cast<void*>(data), size};
    Control control{};  // lives until sendmsg returns (the original's went out of scope first)
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.buf;
    msg.msg_controllen = sizeof control.buf;
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    int raw = fd.get();
    std::memcpy(CMSG_DATA(c), &raw, sizeof raw);  // CMSG_DATA need not be aligned for int
    for (;;) {
        if (::sendmsg(channel, &msg, MSG_DONTWAIT | MSG_NOSIGNAL) >= 0) {
            fd.reset();  // the receiver has its own copy: ours must go, now
            return SendStatus::sent;
        }
        switch (errno) {
            case EINTR:
                continue;
            case EAGAIN:
#if EAGAIN != EWOULDBLOCK
            case EWOULDBLOCK:
#endif
            case ENOBUFS:
            case ETOOMANYREFS:  // too many descriptors in flight from us: the same as full
                return SendStatus::would_block;
            default:  // EPIPE, ECONNRESET: the receiver is gone
                return SendStatus::failed;
        }
    }
}
//! [send]

//! [recv]
RecvStatus recv_fd(int channel, void* data, std::size_t capacity, std::size_t& size, Fd& fd) {
    fd.reset();
    size = 0;
    iovec iov{data, capacity};
    Control control{};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.buf;
    msg.msg_controllen = sizeof control.buf;
    ssize_t n = -1;
    do {
        n = ::recvmsg(channel, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    } while (n == -1 && errno == EINTR);
    if (n == -1) {
        return errno == EAGAIN || errno == EWOULDBLOCK ? RecvStatus::would_block
                                                       : RecvStatus::closed;
    }
    if (n == 0) {
        return RecvStatus::closed;  // SEQPACKET: end-of-file, the other end closed
    }
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    bool one_fd = c != nullptr && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
                  c->cmsg_len == CMSG_LEN(sizeof(int)) && CMSG_NXTHDR(&msg, c) == nullptr;
    if ((msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0 || !one_fd) {
        close_received(msg);  // whatever did arrive is closed, never leaked
        return RecvStatus::bad;
    }
    int raw = -1;
    std::memcpy(&raw, CMSG_DATA(c), sizeof raw);
    fd.reset(raw);
    size = static_cast<std::size_t>(n);
    return RecvStatus::received;
}
//! [recv]

}  // namespace forklab::ch05
