/// \file
/// \brief The incremental request parser and response heads.
#include "forklab/http.hpp"

#include <algorithm>
#include <charconv>
#include <cstring>

namespace forklab::http {

namespace {

// HTTP's grammar is ASCII: these never consult the C locale, as <cctype> does (a locale set by
// a program changes what std::isalnum accepts, and its tables cost a page fault in a new child).

/// An ASCII digit.
constexpr bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

/// An ASCII letter or digit.
constexpr bool is_alnum(char c) {
    return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/// \p c with an ASCII capital letter made small; any other byte as it is.
constexpr char lower(char c) {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

/// An RFC 9110 token character (methods, header names, codings).
bool is_tchar(char c) {
    static constexpr std::string_view extra = "!#$%&'*+-.^_`|~";
    return is_alnum(c) || extra.find(c) != std::string_view::npos;
}

bool is_token(std::string_view s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), is_tchar);
}

/// Calls \p each with every element of the comma-separated \p list, trimmed (empty ones too).
/// Stops and returns false as soon as \p each does.
template <typename Each>
bool each_element(std::string_view list, Each each) {
    for (;;) {
        std::size_t comma = list.find(',');
        if (!each(trim(list.substr(0, comma)))) {
            return false;
        }
        if (comma == std::string_view::npos) {
            return true;
        }
        list.remove_prefix(comma + 1);
    }
}

/// Removes the line ending (LF or CRLF) from a line that includes it.
std::string_view chomp(std::string_view line) {
    if (!line.empty() && line.back() == '\n') {
        line.remove_suffix(1);
    }
    if (!line.empty() && line.back() == '\r') {
        line.remove_suffix(1);
    }
    return line;
}

}  // namespace

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                              [](char x, char y) { return lower(x) == lower(y); });
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
        s.remove_prefix(1);
    }
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
        s.remove_suffix(1);
    }
    return s;
}

bool has_token(std::string_view list, std::string_view token) {
    return !each_element(list,
                         [token](std::string_view element) { return !iequals(element, token); });
}

std::optional<std::string_view> Request::header(std::string_view name) const {
    for (const auto& [key, value] : headers) {
        if (iequals(key, name)) {
            return std::string_view(value);
        }
    }
    return std::nullopt;
}

void Request::clear() {
    method.clear();
    target.clear();
    headers.clear();
    minor_version = Request().minor_version;
    keep_alive = has_body = false;
}

std::string_view Request::path() const {
    std::string_view t = target;
    return t.substr(0, t.find('?'));
}

std::string_view Request::query() const {
    std::size_t q = target.find('?');
    return q == std::string::npos ? std::string_view() : std::string_view(target).substr(q + 1);
}

std::string_view RequestParser::buffered() const noexcept {
    std::size_t from = start_ + (state_ == State::complete ? pos_ : 0);
    return std::string_view(buffer_).substr(from);
}

RequestParser::State RequestParser::feed(std::string_view bytes) {
    if (state_ == State::error) {
        return state_;  // the connection is about to close: ignore more input
    }
    // Drop the requests already returned once they outweigh what is left: each byte moves at
    // most once, however many requests a client pipelines.
    if (start_ > 0 && start_ >= buffer_.size() - start_) {
        buffer_.erase(0, start_);
        start_ = 0;
    }
    buffer_.append(bytes);
    if (state_ == State::complete) {
        return state_;  // the caller has not asked for the next request yet
    }
    return parse();
}

RequestParser::State RequestParser::next() {
    if (state_ != State::complete) {
        return state_;
    }
    start_ += pos_;
    pos_ = part_ = line_ = 0;
    step_ = Step::leading;
    request_.clear();  // its memory is kept for the next request
    content_length_.reset();
    transfer_encoding_ = chunked_last_ = has_host_ = close_ = keep_alive_ = false;
    state_ = State::incomplete;
    return parse();
}

RequestParser::State RequestParser::fail(int status) {
    error_status_ = status;
    state_ = State::error;
    return state_;
}

//! [parse]
// Resumes at pos_: the bytes before it were judged by an earlier call and are never looked at
// again. Every decision is taken at a byte, from the bytes up to it, so how the input was split
// into feeds cannot change the outcome.
RequestParser::State RequestParser::parse() {
    const std::string_view in = std::string_view(buffer_).substr(start_);
    while (pos_ < in.size()) {
        if (pos_ >= max_head) {
            return fail(431);  // one byte more than a head may have, and still no end
        }
        if (step_ != Step::fields) {
            if (State s = request_line_byte(in); s != State::incomplete) {
                return s;
            }
            continue;
        }
        // A header line: look for its end, no further than the head limit.
        std::size_t limit = std::min(in.size(), max_head);
        const void* lf = std::memchr(in.data() + pos_, '\n', limit - pos_);
        if (lf == nullptr) {
            pos_ = limit;
            continue;
        }
        pos_ = static_cast<std::size_t>(static_cast<const char*>(lf) - in.data()) + 1;
        std::string_view line = chomp(in.substr(part_, pos_ - part_));
        part_ = pos_;
        if (line.empty()) {
            return end_of_head();
        }
        if (!take_field(line)) {
            return fail(400);  // also rejects obsolete line folding (a leading space)
        }
    }
    return State::incomplete;
}
//! [parse]

// Request line: METHOD SP TARGET SP HTTP/1.x, judged a byte at a time so that garbage (a TLS
// handshake, a stray protocol) is refused at its first wrong byte.
RequestParser::State RequestParser::request_line_byte(std::string_view in) {
    const char c = in[pos_];
    if (step_ == Step::leading) {
        if (c == '\r' || c == '\n') {
            ++pos_;  // empty lines before a request are tolerated (RFC 9112 section 2.2)
            return State::incomplete;
        }
        step_ = Step::method;
        part_ = line_ = pos_;
    }
    if (c != '\r' && c != '\n' && pos_ - line_ >= max_request_line) {
        return fail(414);  // the line ending does not count: how reads split it cannot matter
    }
    switch (step_) {
        case Step::method:
            if (c == ' ' && pos_ > part_) {
                request_.method = in.substr(part_, pos_ - part_);
                step_ = Step::target;
                part_ = pos_ + 1;
            } else if (!is_tchar(c)) {
                return fail(400);
            }
            break;
        case Step::target:
            if (pos_ == part_ && c != '/') {
                return fail(400);  // only the origin form: "/path?query"
            }
            if (c == ' ') {
                request_.target = in.substr(part_, pos_ - part_);
                step_ = Step::version;
                part_ = pos_ + 1;
            } else if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f) {
                return fail(400);
            }
            break;
        case Step::version: {
            static constexpr std::string_view shape = "HTTP/1.1";
            std::size_t i = pos_ - part_;
            if (i == shape.size()) {
                if (c == '\n') {
                    ++pos_;
                    return end_of_request_line(in);
                }
                if (c != '\r') {
                    return fail(400);
                }
                step_ = Step::version_lf;
            } else if (i == 5 || i == 7 ? !is_digit(c) : c != shape[i]) {
                return fail(400);
            }
            break;
        }
        case Step::version_lf:
            if (c != '\n') {
                return fail(400);  // a bare CR
            }
            ++pos_;
            return end_of_request_line(in);
        case Step::leading:
        case Step::fields:
            break;  // not reached: handled above and in parse()
    }
    ++pos_;
    return State::incomplete;
}

RequestParser::State RequestParser::end_of_request_line(std::string_view in) {
    char major = in[part_ + 5];
    char minor = in[part_ + 7];
    if (major != '1' || (minor != '0' && minor != '1')) {
        return fail(505);
    }
    request_.minor_version = minor - '0';
    step_ = Step::fields;
    part_ = pos_;
    return State::incomplete;
}

// Header field: NAME ":" OWS VALUE OWS. False when it is malformed or makes the framing
// ambiguous.
bool RequestParser::take_field(std::string_view line) {
    std::size_t colon = line.find(':');
    if (colon == std::string_view::npos || !is_token(line.substr(0, colon))) {
        return false;  // "Name : value" too: a space before the colon (RFC 9112 section 5.1)
    }
    std::string_view name = line.substr(0, colon);
    std::string_view value = trim(line.substr(colon + 1));
    if (std::any_of(value.begin(), value.end(), [](char c) {
            auto u = static_cast<unsigned char>(c);
            return (u < ' ' && c != '\t') || u == 0x7f;
        })) {
        return false;
    }
    if (iequals(name, "Content-Length")) {
        // "42", or a list of the same value ("42, 42"; RFC 9110 section 8.6), and the same value
        // as any earlier Content-Length line: two lengths are two ways to frame the request.
        bool fine = each_element(value, [this](std::string_view digits) {
            unsigned long n = 0;
            auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
            if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size() ||
                (content_length_ && *content_length_ != n)) {
                return false;
            }
            content_length_ = n;
            return true;
        });
        if (!fine) {
            return false;
        }
    } else if (iequals(name, "Transfer-Encoding")) {
        // HTTP/1.0 has no transfer codings, and chunked must come last (RFC 9112 section 6.1).
        if (request_.minor_version == 0) {
            return false;
        }
        bool fine = each_element(value, [this](std::string_view coding) {
            if (coding.empty()) {
                return true;
            }
            std::string_view token = trim(coding.substr(0, coding.find(';')));
            if (!is_token(token) || chunked_last_) {
                return false;  // nothing may follow chunked
            }
            transfer_encoding_ = true;
            chunked_last_ = iequals(token, "chunked");
            return true;
        });
        if (!fine) {
            return false;
        }
    } else if (iequals(name, "Host")) {
        if (has_host_) {
            return false;  // two hosts: which one did a proxy route by?
        }
        has_host_ = true;
    } else if (iequals(name, "Connection")) {
        close_ = close_ || has_token(value, "close");
        keep_alive_ = keep_alive_ || has_token(value, "keep-alive");
    }
    if (request_.headers.capacity() == 0) {
        request_.headers.reserve(8);  // one allocation for a usual head, not one per doubling
    }
    request_.headers.emplace_back(name, value);
    return true;
}

RequestParser::State RequestParser::end_of_head() {
    if (transfer_encoding_) {
        // Chunked and a length: which frames the body is a guess, and guesses differ between
        // a proxy and us (request smuggling). Refused rather than guessed.
        if (!chunked_last_ || content_length_) {
            return fail(400);
        }
        request_.has_body = true;
    } else if (content_length_) {
        request_.has_body = *content_length_ > 0;
    }
    request_.keep_alive = !close_ && (request_.minor_version == 1 || keep_alive_);
    state_ = State::complete;
    return state_;
}

std::string_view reason(int status) {
    switch (status) {
        case 200:
            return "OK";
        case 400:
            return "Bad Request";
        case 404:
            return "Not Found";
        case 405:
            return "Method Not Allowed";
        case 408:
            return "Request Timeout";
        case 414:
            return "URI Too Long";
        case 431:
            return "Request Header Fields Too Large";
        case 500:
            return "Internal Server Error";
        case 503:
            return "Service Unavailable";
        case 505:
            return "HTTP Version Not Supported";
        default:
            return "Unknown";
    }
}

void append_response_head(std::string& out, int status, std::string_view content_type,
                          std::size_t content_length, bool keep_alive) {
    char digits[24];  // to_chars into a local buffer: no temporary string per number
    auto number = [&digits](auto value) {
        auto end = std::to_chars(digits, digits + sizeof digits, value).ptr;
        return std::string_view(digits, static_cast<std::size_t>(end - digits));
    };
    out.append("HTTP/1.1 ").append(number(status)).append(" ").append(reason(status));
    out.append("\r\nContent-Type: ").append(content_type);
    out.append("\r\nContent-Length: ").append(number(content_length));
    out.append(keep_alive ? "\r\nConnection: keep-alive\r\n\r\n" : "\r\nConnection: close\r\n\r\n");
}

std::string response_head(int status, std::string_view content_type, std::size_t content_length,
                          bool keep_alive) {
    std::string head;
    head.reserve(128);
    append_response_head(head, status, content_type, content_length, keep_alive);
    return head;
}

}  // namespace forklab::http
