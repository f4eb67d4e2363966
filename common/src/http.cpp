/// \file
/// \brief The incremental request parser and response heads.
#include "forklab/http.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace forklab::http {

namespace {

/// RFC 9110 token characters (method and header names).
bool is_token(std::string_view s) {
    static constexpr std::string_view extra = "!#$%&'*+-.^_`|~";
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) ||
               extra.find(c) != std::string_view::npos;
    });
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
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) ==
                      std::tolower(static_cast<unsigned char>(y));
           });
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
    while (!list.empty()) {
        std::size_t comma = list.find(',');
        if (iequals(trim(list.substr(0, comma)), token)) {
            return true;
        }
        if (comma == std::string_view::npos) {
            break;
        }
        list.remove_prefix(comma + 1);
    }
    return false;
}

std::optional<std::string_view> Request::header(std::string_view name) const {
    for (const auto& [key, value] : headers) {
        if (iequals(key, name)) {
            return std::string_view(value);
        }
    }
    return std::nullopt;
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
    return std::string_view(buffer_).substr(consumed_);
}

RequestParser::State RequestParser::feed(std::string_view bytes) {
    if (state_ == State::error) {
        return state_;  // the connection is about to close: ignore more input
    }
    buffer_.append(bytes);
    if (state_ == State::complete) {
        return state_;  // the caller has not asked for the next request yet
    }
    return parse();
}

RequestParser::State RequestParser::next() {
    if (state_ == State::error) {
        return state_;
    }
    buffer_.erase(0, consumed_);
    consumed_ = 0;
    request_ = Request();
    state_ = State::incomplete;
    return parse();
}

RequestParser::State RequestParser::fail(int status) {
    error_status_ = status;
    state_ = State::error;
    return state_;
}

RequestParser::State RequestParser::parse() {
    std::string_view in = buffered();
    // Tolerate empty lines before a request (RFC 9112 section 2.2).
    std::size_t start = 0;
    while (start < in.size() && (in[start] == '\r' || in[start] == '\n')) {
        ++start;
    }
    in.remove_prefix(start);

    std::size_t line_end = in.find('\n');
    if (line_end == std::string_view::npos) {
        return in.size() > max_request_line ? fail(414) : State::incomplete;
    }
    std::string_view line = chomp(in.substr(0, line_end + 1));
    if (line.size() > max_request_line) {
        return fail(414);
    }
    // The head ends at the first empty line.
    std::size_t head_end = std::string_view::npos;
    for (std::size_t pos = line_end + 1; pos < in.size();) {
        std::size_t eol = in.find('\n', pos);
        if (eol == std::string_view::npos) {
            break;
        }
        if (chomp(in.substr(pos, eol + 1 - pos)).empty()) {
            head_end = eol + 1;
            break;
        }
        pos = eol + 1;
    }
    if (head_end == std::string_view::npos) {
        return in.size() > max_head ? fail(431) : State::incomplete;
    }
    if (head_end > max_head) {
        return fail(431);
    }

    // Request line: METHOD SP TARGET SP HTTP/1.x
    std::size_t sp1 = line.find(' ');
    std::size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
    if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos) {
        return fail(400);
    }
    std::string_view method = line.substr(0, sp1);
    std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
    std::string_view version = line.substr(sp2 + 1);
    if (!is_token(method) || target.empty() || target.front() != '/' ||
        std::any_of(target.begin(), target.end(),
                    [](char c) { return static_cast<unsigned char>(c) <= ' ' || c == 0x7f; })) {
        return fail(400);
    }
    if (version.size() != 8 || version.substr(0, 5) != "HTTP/" || version[6] != '.' ||
        !std::isdigit(static_cast<unsigned char>(version[5])) ||
        !std::isdigit(static_cast<unsigned char>(version[7]))) {
        return fail(400);
    }
    if (version[5] != '1' || (version[7] != '0' && version[7] != '1')) {
        return fail(505);
    }
    request_.method = method;
    request_.target = target;
    request_.minor_version = version[7] - '0';

    // Header fields: NAME ":" OWS VALUE OWS
    for (std::size_t pos = line_end + 1; pos < head_end;) {
        std::size_t eol = in.find('\n', pos);
        std::string_view field = chomp(in.substr(pos, eol + 1 - pos));
        pos = eol + 1;
        if (field.empty()) {
            break;
        }
        std::size_t colon = field.find(':');
        if (colon == std::string_view::npos || !is_token(field.substr(0, colon))) {
            return fail(400);  // also rejects obsolete line folding (a leading space)
        }
        std::string_view value = trim(field.substr(colon + 1));
        if (std::any_of(value.begin(), value.end(), [](char c) {
                auto u = static_cast<unsigned char>(c);
                return (u < ' ' && c != '\t') || u == 0x7f;
            })) {
            return fail(400);
        }
        request_.headers.emplace_back(field.substr(0, colon), value);
    }

    bool keep_alive = request_.minor_version == 1;
    if (auto connection = request_.header("Connection")) {
        if (has_token(*connection, "close")) {
            keep_alive = false;
        } else if (has_token(*connection, "keep-alive")) {
            keep_alive = true;
        }
    }
    request_.keep_alive = keep_alive;
    if (auto length = request_.header("Content-Length")) {
        unsigned long n = 0;
        auto [end, ec] = std::from_chars(length->data(), length->data() + length->size(), n);
        if (ec != std::errc() || end != length->data() + length->size()) {
            return fail(400);
        }
        request_.has_body = n > 0;
    }
    if (request_.header("Transfer-Encoding")) {
        request_.has_body = true;
    }
    consumed_ += start + head_end;
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

std::string response_head(int status, std::string_view content_type, std::size_t content_length,
                          bool keep_alive) {
    std::string head;
    head.reserve(128);
    head.append("HTTP/1.1 ").append(std::to_string(status)).append(" ").append(reason(status));
    head.append("\r\nContent-Type: ").append(content_type);
    head.append("\r\nContent-Length: ").append(std::to_string(content_length));
    head.append(keep_alive ? "\r\nConnection: keep-alive\r\n\r\n"
                           : "\r\nConnection: close\r\n\r\n");
    return head;
}

}  // namespace forklab::http
