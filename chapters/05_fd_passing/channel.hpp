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

/// What a message asks of its receiver. Every command carries one connection.
enum class Command : std::uint32_t {
    connection = 1,  ///< master -> worker: a new connection; serve it.
    hand_back = 2,   ///< worker -> master: not my key; give it to `owner`, with these bytes.
    forward = 3,     ///< master -> worker: a handed-back connection; its first bytes are here.
};

/// Most bytes of a connection's input that can travel with it: a whole request head (at most
/// http::max_head) and whatever the client pipelined behind it.
inline constexpr std::size_t max_carried = 16384;

/// One channel message: a fixed part, then `bytes` bytes of `data` (only those are sent).
struct Message {
    Command command = Command::connection;  ///< What it asks.
    std::uint32_t owner = 0;                ///< hand_back: the index of the worker owning the key.
    std::uint32_t bytes = 0;                ///< How many bytes of data are used.
    std::uint32_t reserved = 0;             ///< Zero; keeps the fixed part 16 bytes.
    char data[max_carried];                 ///< The connection's input already read (hand_back,
                                            ///< forward); those bytes are no longer in the socket.
};

/// Size of the fixed part: a message is never shorter.
inline constexpr std::size_t message_header = offsetof(Message, data);

/// How a send went.
enum class SendStatus {
    sent,         ///< Delivered; the sender's copy of the descriptor is closed (\p fd is empty).
    would_block,  ///< The channel is full (a slow or stopped receiver): nothing was sent, \p fd
                  ///< is still the caller's.
    failed,       ///< The receiver is gone or the call failed: \p fd is still the caller's.
};

/// Sends \p message (its fixed part and `bytes` bytes of data) with \p fd attached, without ever
/// blocking. Requires a valid \p fd and `message.bytes <= max_carried`.
///
/// On SendStatus::sent it closes the caller's copy of \p fd: the receiver holds its own now, and a
/// sender that kept one would keep the connection open after the receiver closes it (the client
/// would never see end-of-file). On any other status the caller still owns \p fd and must give it
/// to someone else or close it.
SendStatus send_message(int channel, const Message& message, Fd& fd);

/// How a receive went.
enum class RecvStatus {
    received,     ///< One whole, valid message; \p fd holds its connection.
    would_block,  ///< Nothing to read now.
    closed,       ///< The other end is gone (end-of-file): for a worker, the master died.
    bad,          ///< A short, truncated or malformed message: every descriptor that came with it
                  ///< has been closed, \p fd is empty.
};

/// Receives one message into \p message and its connection into \p fd, without blocking.
///
/// Checks everything it receives before trusting it: the length against the fixed part and
/// `bytes`, MSG_TRUNC and MSG_CTRUNC, and that the control data is exactly one SOL_SOCKET /
/// SCM_RIGHTS message with one descriptor. The descriptor is close-on-exec from the moment it
/// arrives (MSG_CMSG_CLOEXEC). A receiver out of descriptors (EMFILE) gets RecvStatus::bad: the
/// kernel could not install the descriptor, closed it, and said so with MSG_CTRUNC.
RecvStatus recv_message(int channel, Message& message, Fd& fd);

}  // namespace forklab::ch05
