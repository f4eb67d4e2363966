/// \file
/// \brief A small blocking HTTP client with deadlines, for tests.
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <string>

#include "forklab/fd.hpp"

namespace forklab::test {

/// What came back for one request.
struct HttpReply {
    bool complete = false;  ///< A whole response (head and Content-Length body) arrived.
    int status = 0;         ///< Status code (0 if none).
    std::map<std::string, std::string> headers;  ///< Lower-case names.
    std::string body;                            ///< The body.
    std::string error;  ///< Why it is incomplete ("timeout", "reset", "eof" ...).

    /// The header \p lower_name or "".
    [[nodiscard]] std::string header(const std::string& lower_name) const;
};

/// Connects to 127.0.0.1:\p port (blocking socket). A \p rcvbuf > 0 sets SO_RCVBUF before the
/// connection, so the window the server sees stays small (a slow reader that the kernel cannot
/// hide behind big buffers). Throws std::system_error on failure.
Fd connect_to(int port, int rcvbuf = 0);
/// Sends all of \p bytes. False if the server closed or reset.
bool send_all(int fd, const std::string& bytes);
/// Parses one response at the front of \p in into \p reply (a HEAD reply, \p head, has no body).
/// Returns how many bytes it took: 0 while the response is incomplete. A bad status line or a
/// missing Content-Length takes the head and sets reply.error.
std::size_t parse_reply(const std::string& in, HttpReply& reply, bool head = false);
/// Reads one response from \p fd within \p timeout, starting with the bytes already in
/// \p buffered; what follows the response (a pipelined reply) is left there for the next call.
HttpReply read_reply(int fd, std::string& buffered, std::chrono::milliseconds timeout,
                     bool head = false);
/// Reads the one response of a connection from \p fd within \p timeout: bytes after it are an
/// error. A HEAD reply has no body: pass \p head = true.
HttpReply read_reply(int fd, std::chrono::milliseconds timeout, bool head = false);
/// True when \p fd reaches end-of-file (or a reset) within \p timeout with no further data.
bool closed_within(int fd, std::chrono::milliseconds timeout);
/// One GET on a new connection.
HttpReply get(int port, const std::string& path,
              std::chrono::milliseconds timeout = std::chrono::seconds(10));
/// Sends \p raw bytes on a new connection and reads one response.
HttpReply exchange(int port, const std::string& raw,
                   std::chrono::milliseconds timeout = std::chrono::seconds(10));

}  // namespace forklab::test
