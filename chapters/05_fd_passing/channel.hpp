/// \file
/// \brief Chapter 05's seam: one message, with one connection attached, over a socketpair.
///
/// The channel between the master and a worker is an AF_UNIX SOCK_SEQPACKET socketpair, both ends
/// non-blocking. SEQPACKET keeps message boundaries: one recvmsg returns one whole message or
/// nothing, and a connection's descriptor can never be attached to half a message, as it can on a
/// byte stream. Every message carries exactly one descriptor (SCM_RIGHTS).
#pragma once

#include <cstddef>
#include <cstdint>

#include "forklab/fd.hpp"

namespace forklab::ch05 {

/// What a message asks of its receiver.
enum class Command : std::uint32_t {
    connection = 1,  ///< master -> worker: a new connection; serve it.
};

/// Chapter 05's message: what the descriptor attached to it is for. A descriptor needs nothing
/// more to travel (the kernel carries the connection itself); the command keeps the message at
/// least one byte long, as a message must be to carry a descriptor.
struct Message {
    Command command = Command::connection;  ///< What to do with the connection.
};

/// True when the \p size bytes received into \p message are one whole chapter 05 message.
inline bool valid(const Message& message, std::size_t size) {
    return size == sizeof message && message.command == Command::connection;
}

/// How a send went.
enum class SendStatus {
    sent,         ///< Delivered; the sender's copy of the descriptor is closed (\p fd is empty).
    would_block,  ///< The channel is full (a slow or stopped receiver): nothing was sent, \p fd
                  ///< is still the caller's.
    failed,       ///< The receiver is gone or the call failed: \p fd is still the caller's.
};

/// Sends the \p size bytes at \p data (at least one) as one message with \p fd attached, without
/// ever blocking. Requires a valid \p fd.
///
/// On SendStatus::sent it closes the caller's copy of \p fd: the receiver holds its own now, and a
/// sender that kept one would keep the connection open after the receiver closes it (the client
/// would never see end-of-file). On any other status the caller still owns \p fd and must give it
/// to someone else or close it.
SendStatus send_fd(int channel, const void* data, std::size_t size, Fd& fd);

/// How a receive went.
enum class RecvStatus {
    received,     ///< One whole, valid message; \p fd holds its connection.
    would_block,  ///< Nothing to read now.
    closed,       ///< The other end is gone (end-of-file): for a worker, the master died.
    bad,          ///< A truncated or malformed message: every descriptor that came with it has
                  ///< been closed, \p fd is empty.
};

/// Receives one message of at most \p capacity bytes into \p data, its length into \p size and its
/// connection into \p fd, without blocking.
///
/// Checks everything it receives before trusting it: MSG_TRUNC (the message was longer than
/// \p capacity) and MSG_CTRUNC, and that the control data is exactly one SOL_SOCKET /
/// SCM_RIGHTS message with one descriptor. What the bytes say is the caller's to check. The
/// descriptor is close-on-exec from the moment it arrives (MSG_CMSG_CLOEXEC). A receiver out of
/// descriptors (EMFILE) gets RecvStatus::bad: the kernel could not install the descriptor, closed
/// it, and said so with MSG_CTRUNC.
RecvStatus recv_fd(int channel, void* data, std::size_t capacity, std::size_t& size, Fd& fd);

}  // namespace forklab::ch05
