/// \file
/// \brief Chapter 06's channel message: a connection with the bytes already read from it.
#pragma once

#include <cstddef>
#include <cstdint>

#include "05_fd_passing/channel.hpp"

namespace forklab::ch06 {

/// What a message asks of its receiver: chapter 05's command, and the two of the hand-back.
enum class Command : std::uint32_t {
    connection = static_cast<std::uint32_t>(ch05::Command::connection),  ///< master -> worker:
                                                                         ///< chapter 05's message.
    hand_back = 2,  ///< worker -> master: not my key; give it to `owner`, with these bytes.
    forward = 3,    ///< master -> worker: a handed-back connection; its first bytes are here.
};

/// Most bytes of a connection's input that can travel with it: a whole request head (at most
/// http::max_head) and whatever the client pipelined behind it in the same reads.
inline constexpr std::size_t max_carried = 16384;

/// A hand-back or a forward: a fixed part, then `bytes` bytes of `data` (only those are sent).
/// It begins like chapter 05's Message, with the command, so one buffer receives either.
struct CarriedMessage {
    Command command = Command::hand_back;  ///< hand_back or forward.
    std::uint32_t owner = 0;               ///< The index of the worker owning the key.
    std::uint32_t bytes = 0;               ///< How many bytes of data are used.
    std::uint32_t reserved = 0;            ///< Zero; keeps the fixed part 16 bytes.
    char data[max_carried];                ///< The connection's input already read; those bytes
                                           ///< are no longer in the socket.
};

/// Size of the fixed part: a carried message is never shorter.
inline constexpr std::size_t carried_header = offsetof(CarriedMessage, data);

/// The length of \p message on the channel: its fixed part and the bytes it uses.
inline std::size_t wire_size(const CarriedMessage& message) {
    return carried_header + message.bytes;
}

/// True when the \p size bytes received into \p message are one whole hand-back or forward: at
/// least the fixed part, exactly as long as `bytes` says, and a command of its own.
inline bool valid(const CarriedMessage& message, std::size_t size) {
    return size >= carried_header && message.bytes <= max_carried && size == wire_size(message) &&
           (message.command == Command::hand_back || message.command == Command::forward);
}

}  // namespace forklab::ch06
