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

/// Longest request line accepted, not counting its line ending; longer gets 414.
inline constexpr std::size_t max_request_line = 4096;
/// Longest request head accepted: every byte from the end of the previous request (empty lines
/// before the request line included) to the end of the empty line that ends the head, line endings
/// included. Longer gets 431.
inline constexpr std::size_t max_head = 8192;

/// One parsed request head.
struct Request {
    std::string method;                                        ///< "GET", "HEAD" ...
    std::string target;                                        ///< "/bytes/10?x"
    int minor_version = 1;                                     ///< 0 for HTTP/1.0, 1 for HTTP/1.1
    std::vector<std::pair<std::string, std::string>> headers;  ///< In arrival order.
    bool keep_alive = false;  ///< What the client asked for (version default, Connection header).
    bool has_body = false;    ///< Content-Length > 0 or Transfer-Encoding present.

    /// Back to a default Request, keeping the memory of its strings and vector (a keep-alive
    /// connection parses the next request into them).
    void clear();
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
/// requests at once, and the outcome (each request, or the error and its status) is the same
/// however the bytes are split. Lines may end in CRLF or a bare LF.
///
/// Hostile input costs little: every byte is looked at once (the parser resumes where the last
/// feed stopped, it never re-scans), a request line that is already wrong (a bad method byte, a
/// target not starting with '/', a version not "HTTP/") fails at that byte instead of waiting for
/// the line's end, and an incomplete head never keeps more than max_head bytes before it fails.
/// Framing that a proxy could read differently fails with 400 (RFC 9112 sections 6.1 and 6.3):
/// conflicting Content-Length values, Transfer-Encoding with Content-Length, Transfer-Encoding in
/// HTTP/1.0 or not ending in chunked; so does a second Host line (section 3.2).
class RequestParser {
  public:
    /// Where parsing stands.
    enum class State {
        incomplete,  ///< More bytes are needed.
        complete,    ///< request() holds a request; leftover bytes stay buffered.
        error,       ///< error_status() says which (400, 414, 431, 505).
    };

    /// Appends \p bytes and parses as far as possible. While complete, the bytes are only kept
    /// (the caller bounds how much it reads before it calls next()); after an error, ignored.
    State feed(std::string_view bytes);
    /// The parsed request (when complete).
    [[nodiscard]] const Request& request() const noexcept { return request_; }
    /// The status to answer with (when error).
    [[nodiscard]] int error_status() const noexcept { return error_status_; }
    /// After complete: forgets the request and parses the buffered bytes behind it (keep-alive,
    /// pipelining). Otherwise the state stays as it is.
    State next();
    /// Bytes received but not yet part of a parsed request (after complete: what follows it).
    [[nodiscard]] std::string_view buffered() const noexcept;
    /// True when nothing at all has been received for the current request.
    [[nodiscard]] bool empty() const noexcept { return buffered().empty(); }

  private:
    /// Where the scan of the current head stands.
    enum class Step { leading, method, target, version, version_lf, fields };

    State parse();
    State request_line_byte(std::string_view in);
    State end_of_request_line(std::string_view in);
    bool take_field(std::string_view line);
    State end_of_head();
    State fail(int status);

    std::string buffer_;
    std::size_t start_ = 0;  // where the current head begins in buffer_ (before: returned requests)
    std::size_t pos_ = 0;    // bytes of the current head already scanned (relative to start_)
    std::size_t part_ = 0;   // where the current part (method, target, version, field) begins
    std::size_t line_ = 0;   // where the request line begins (after the empty lines)
    Step step_ = Step::leading;
    State state_ = State::incomplete;
    int error_status_ = 0;
    Request request_;
    // What the header fields said so far about framing and persistence.
    std::optional<unsigned long> content_length_;
    bool transfer_encoding_ = false;  // a Transfer-Encoding field was seen
    bool chunked_last_ = false;       // and its last coding so far is chunked
    bool has_host_ = false;
    bool close_ = false;       // Connection: close
    bool keep_alive_ = false;  // Connection: keep-alive
};

/// True when \p a and \p b are equal ignoring ASCII case (header names, tokens).
bool iequals(std::string_view a, std::string_view b);

/// \p s without leading and trailing spaces and tabs (a header value).
std::string_view trim(std::string_view s);

/// True when the comma-separated \p list holds \p token, in any case ("keep-alive, Upgrade").
bool has_token(std::string_view list, std::string_view token);

/// The reason phrase of \p status ("OK", "Not Found" ...).
std::string_view reason(int status);

/// Appends the head of a response to \p out: status line, Content-Type, Content-Length,
/// Connection, blank line. A server that keeps \p out per connection reuses its memory.
void append_response_head(std::string& out, int status, std::string_view content_type,
                          std::size_t content_length, bool keep_alive);

/// The head of a response: status line, Content-Type, Content-Length, Connection, blank line.
std::string response_head(int status, std::string_view content_type, std::size_t content_length,
                          bool keep_alive);

}  // namespace forklab::http
