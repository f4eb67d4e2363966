/// \file
/// \brief The small HTTP application every chapter serves, so that their figures compare.
///
/// Routes: `/` -> "Hello, world\n"; `/bytes/N` -> N bytes (N <= 16 MiB); `/sleep/MS` -> answers
/// after MS ms (<= 60000); `/pid` -> the serving process's pid; `/status` (`/status?json`) -> the
/// server's state, supplied by the chapter. With drills on: `/crash` and `/hang`.
/// Unknown paths get 404, methods other than GET and HEAD get 405.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

#include "forklab/http.hpp"

namespace forklab {

/// Largest body /bytes/N serves.
inline constexpr std::size_t max_bytes_body = 16u << 20;
/// Longest delay /sleep/MS accepts.
inline constexpr long max_sleep_ms = 60000;

/// What the chapter gives the app.
struct AppContext {
    bool drills = false;  ///< Enables /crash and /hang.
    /// Renders /status; the argument is true for JSON. May be empty (then /status says so).
    std::function<std::string(bool json)> status;
};

/// Something the serving process must do besides answering.
enum class Drill {
    none,   ///< Just answer.
    crash,  ///< Abort mid-request (the /crash drill): the client sees the connection close.
    hang,   ///< Stop answering and stop heartbeats until killed (the /hang drill).
};

/// A response to send.
///
/// Its body is `body` followed by `generated` bytes that exist only as a count (/bytes/N): a
/// server that sends them as the socket drains (generated_chunk()) holds no more memory for a
/// 16 MiB body than for an empty one, however many clients ask and however slowly they read.
struct Response {
    int status = 200;                         ///< HTTP status.
    std::string content_type = "text/plain";  ///< Content-Type.
    std::string body;                         ///< Body (also counted for HEAD, but not sent).
    std::size_t generated = 0;                ///< Bytes that follow `body`, made when sent.
    long delay_ms = 0;                        ///< Wait this long before answering (/sleep).
    Drill drill = Drill::none;                ///< A fault to act out instead of answering.
    bool close = false;                       ///< Close the connection after this response.

    /// The whole body's length: what Content-Length says.
    [[nodiscard]] std::size_t body_size() const { return body.size() + generated; }
};

/// Routes \p request to its response.
Response handle(const http::Request& request, const AppContext& context);

/// A plain-text error response for \p status (400, 408, 414, 431 ...); it closes the connection.
Response error_response(int status);

/// Head plus body, ready to write, the generated part included. \p head_only leaves the body out
/// (HEAD) but keeps its length.
std::string serialize(const Response& response, bool keep_alive, bool head_only);

/// The head alone (status line, headers, blank line), with the whole body's length.
std::string serialize_head(const Response& response, bool keep_alive);

/// serialize_head() appended to \p out, whose memory a connection keeps from one response to the
/// next (an event-loop worker serves thousands of requests with one buffer per connection).
void append_head(std::string& out, const Response& response, bool keep_alive);

/// The next at most \p left bytes of a generated body (at most 64 KiB at a time), to send after
/// the bytes sent before: every byte of a generated body is the same, so one static buffer
/// serves every connection.
std::string_view generated_chunk(std::size_t left);

}  // namespace forklab
