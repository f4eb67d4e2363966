/// \file
/// \brief Exercise 05: pass a connection over the channel. Your version of send_fd and recv_fd
/// (the contracts are in chapters/05_fd_passing/channel.hpp).
///
/// This starter moves bytes and descriptors, roughly, the way the chapter's original prototype
/// did. It has several of the classic SCM_RIGHTS mistakes in it: find them all (see the README).
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "channel.hpp"

namespace forklab::ch05 {

namespace {

/// A control message as plain bytes, with a count of the descriptors it holds.
struct ControlBytes {
    std::uint32_t count = 0;
    char bytes[CMSG_SPACE(sizeof(int))] = {};
};

}  // namespace

SendStatus send_fd(int channel, const void* data, std::size_t size, Fd& fd) {
    iovec iov{const_cast<void*>(data), size};
    ControlBytes control;
    control.count = 1;
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.bytes;
    msg.msg_controllen = sizeof control.bytes;
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    int raw = fd.get();
    std::memcpy(CMSG_DATA(c), &raw, sizeof raw);
    if (::sendmsg(channel, &msg, MSG_DONTWAIT | MSG_NOSIGNAL) >= 0) {
        return SendStatus::sent;
    }
    return errno == EAGAIN ? SendStatus::would_block : SendStatus::failed;
}

RecvStatus recv_fd(int channel, void* data, std::size_t capacity, std::size_t& size, Fd& fd) {
    iovec iov{data, capacity};
    char control[sizeof(int)];  // room for one descriptor
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    ssize_t n = ::recvmsg(channel, &msg, MSG_DONTWAIT);
    if (n == -1) {
        return errno == EAGAIN ? RecvStatus::would_block : RecvStatus::closed;
    }
    if (n == 0) {
        return RecvStatus::closed;
    }
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    int raw = -1;
    if (c != nullptr) {
        std::memcpy(&raw, CMSG_DATA(c), sizeof raw);
    }
    size = static_cast<std::size_t>(n);
    fd.reset(raw);
    return RecvStatus::received;
}

}  // namespace forklab::ch05
