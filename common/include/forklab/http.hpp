/// \file
/// \brief An incremental parser for the HTTP/1.1 subset the kit serves, and response heads.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace forklab::http {

/// Longest request line accepted; longer gets 414.
inline constexpr std::size_t max_request_line = 4096;
/// Longest request head (request line + headers) accepted; longer gets 431.
inline constexpr std::size_t max_head = 8192;

/// One parsed request head.
struct Request {
    std::string method;                                        ///< "GET", "HEAD" ...
    std::string target;                                        ///< "/bytes/10?x"
    int minor_version = 1;                                     ///< 0 for HTTP/1.0, 1 for HTTP/1.1
    std::vector<std::pair<std::string, std::string>> headers;  ///< In arrival order.
    bool keep_alive = false;  ///< What the client asked for (version default, Connection header).
    bool has_body = false;    ///< Content-Length > 0 or Transfer-Encoding present.

    /// The value of the first header named \p name (case-insensitive), if any.
    [[nodiscard]] std::optional<std::string_view> header(std::string_view name) const;
    /// The target without its query ("/status" for "/status?json").
    [[nodiscard]] std::string_view path() const;
    /// The query after '?', or "" when there is none.
    [[nodiscard]] std::string_view query() const;
};

/// Parses one request head at a time from bytes that arrive in pieces of any size.
///
/// Never assumes that one read holds a whole request: feed() may be given one byte or several
/// requests at once. Lines may end in CRLF or a bare LF.
class RequestParser {
  public:
    /// Where parsing stands.
    enum class State {
        incomplete,  ///< More bytes are needed.
        complete,    ///< request() holds a request; leftover bytes stay buffered.
        error,       ///< error_status() says which (400, 414, 431, 505).
    };

    /// Appends \p bytes and parses as far as possible.
    State feed(std::string_view bytes);
    /// The parsed request (when complete).
    [[nodiscard]] const Request& request() const noexcept { return request_; }
    /// The status to answer with (when error).
    [[nodiscard]] int error_status() const noexcept { return error_status_; }
    /// Forgets the current request and parses the buffered leftover bytes (keep-alive, pipelining).
    State next();
    /// Bytes received but not yet part of a parsed request.
    [[nodiscard]] std::string_view buffered() const noexcept;
    /// True when nothing at all has been received for the current request.
    [[nodiscard]] bool empty() const noexcept { return buffered().empty(); }

  private:
    State parse();
    State fail(int status);

    std::string buffer_;
    std::size_t consumed_ = 0;  // bytes of buffer_ that belong to requests already returned
    State state_ = State::incomplete;
    int error_status_ = 0;
    Request request_;
};

/// True when \p a and \p b are equal ignoring ASCII case (header names, tokens).
bool iequals(std::string_view a, std::string_view b);

/// \p s without leading and trailing spaces and tabs (a header value).
std::string_view trim(std::string_view s);

/// True when the comma-separated \p list holds \p token, in any case ("keep-alive, Upgrade").
bool has_token(std::string_view list, std::string_view token);

/// The reason phrase of \p status ("OK", "Not Found" ...).
std::string_view reason(int status);

/// The head of a response: status line, Content-Type, Content-Length, Connection, blank line.
std::string response_head(int status, std::string_view content_type, std::size_t content_length,
                          bool keep_alive);

}  // namespace forklab::http
