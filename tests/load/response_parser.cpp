/// \file
/// \brief The load client's response parser.
#include "response_parser.hpp"

#include <algorithm>
#include <charconv>

#include "forklab/http.hpp"

namespace forklab::load {

using http::has_token;
using http::iequals;
using http::trim;

void ResponseParser::reset() {
    head_.clear();
    in_body_ = false;
    body_left_ = 0;
    status_ = 0;
    close_ = false;
    state_ = State::incomplete;
}

ResponseParser::State ResponseParser::feed(std::string_view bytes) {
    if (state_ == State::malformed || bytes.empty()) {
        return state_;
    }
    if (state_ == State::complete) {
        return state_ = State::malformed;
    }
    if (in_body_) {
        return take_body(bytes.size());
    }
    // Keep at most max_head + 1 bytes of head: enough to tell a head that is too long.
    std::size_t before = head_.size();
    head_.append(bytes.substr(0, max_head + 1 - before));
    // The terminator may straddle two pieces: look from up to 3 bytes before the new ones.
    std::size_t end = head_.find("\r\n\r\n", before >= 3 ? before - 3 : 0);
    if (end == std::string::npos) {
        return state_ = head_.size() > max_head ? State::malformed : State::incomplete;
    }
    std::size_t body_start = end + 4;
    if (body_start > max_head) {
        return state_ = State::malformed;
    }
    head_.resize(body_start);
    if (parse_head(head_) == State::malformed) {
        return state_ = State::malformed;
    }
    in_body_ = true;
    return take_body(bytes.size() - (body_start - before));  // the rest of this piece is body
}

ResponseParser::State ResponseParser::take_body(std::size_t bytes) {
    if (bytes > body_left_) {
        return state_ = State::malformed;
    }
    body_left_ -= bytes;
    return state_ = body_left_ == 0 ? State::complete : State::incomplete;
}

ResponseParser::State ResponseParser::parse_head(std::string_view head) {
    // "HTTP/1.1 200 OK\r\n": version, one space, three digits, then a space or the line's end.
    if (head.size() < 14 || head.substr(0, 7) != "HTTP/1." || head[7] < '0' || head[7] > '9' ||
        head[8] != ' ' || (head[12] != ' ' && head[12] != '\r')) {
        return State::malformed;
    }
    auto [p, ec] = std::from_chars(head.data() + 9, head.data() + 12, status_);
    if (ec != std::errc() || p != head.data() + 12 || status_ < 100) {
        return State::malformed;
    }
    bool http10 = head[7] == '0';
    bool keep_alive = false;
    bool has_length = false;
    std::size_t length = 0;
    std::size_t pos = head.find("\r\n") + 2;
    for (std::size_t eol = head.find("\r\n", pos); eol != pos && eol != std::string_view::npos;
         pos = eol + 2, eol = head.find("\r\n", pos)) {
        std::string_view line = head.substr(pos, eol - pos);
        std::size_t colon = line.find(':');
        if (colon == std::string_view::npos || colon == 0 || line[0] == ' ' || line[0] == '\t') {
            return State::malformed;
        }
        std::string_view name = line.substr(0, colon);
        std::string_view value = trim(line.substr(colon + 1));
        if (iequals(name, "content-length")) {
            std::size_t n = 0;
            auto [q, err] = std::from_chars(value.data(), value.data() + value.size(), n);
            if (value.empty() || err != std::errc() || q != value.data() + value.size() ||
                n > max_body || (has_length && n != length)) {
                return State::malformed;
            }
            has_length = true;
            length = n;
        } else if (iequals(name, "transfer-encoding")) {
            return State::malformed;
        } else if (iequals(name, "connection")) {
            close_ = close_ || has_token(value, "close");
            keep_alive = keep_alive || has_token(value, "keep-alive");
        }
    }
    if (!has_length) {
        return State::malformed;
    }
    close_ = close_ || (http10 && !keep_alive);
    body_left_ = length;
    return State::incomplete;
}

}  // namespace forklab::load
