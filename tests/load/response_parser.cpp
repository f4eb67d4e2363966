/// \file
/// \brief The load client's response parser.
#include "response_parser.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace forklab::load {

namespace {

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) ==
                      std::tolower(static_cast<unsigned char>(y));
           });
}

constexpr std::size_t max_head = 16384;

}  // namespace

void ResponseParser::reset() {
    head_.clear();
    in_body_ = false;
    body_left_ = 0;
    status_ = 0;
    close_ = false;
    state_ = State::incomplete;
}

ResponseParser::State ResponseParser::feed(std::string_view bytes) {
    if (state_ == State::malformed) {
        return state_;
    }
    if (state_ == State::complete) {
        if (!bytes.empty()) {
            state_ = State::malformed;
        }
        return state_;
    }
    if (!in_body_) {
        std::size_t before = head_.size();
        head_.append(bytes);
        std::size_t from = before >= 3 ? before - 3 : 0;
        std::size_t end = head_.find("\r\n\r\n", from);
        if (end == std::string::npos) {
            return state_ = head_.size() > max_head ? State::malformed : State::incomplete;
        }
        std::size_t body_start = end + 4;
        bytes = std::string_view(head_).substr(body_start);
        if (parse_head() == State::malformed) {
            return state_;
        }
        in_body_ = true;
        std::size_t take = std::min(bytes.size(), body_left_);
        body_left_ -= take;
        bool extra = bytes.size() > take;
        head_.resize(body_start);
        if (extra) {
            return state_ = State::malformed;
        }
        return state_ = body_left_ == 0 ? State::complete : State::incomplete;
    }
    if (bytes.size() > body_left_) {
        return state_ = State::malformed;
    }
    body_left_ -= bytes.size();
    return state_ = body_left_ == 0 ? State::complete : State::incomplete;
}

ResponseParser::State ResponseParser::parse_head() {
    std::string_view head(head_);
    // "HTTP/1.1 200 OK\r\n"
    if (head.size() < 12 || head.substr(0, 7) != "HTTP/1." || head[8] != ' ') {
        return state_ = State::malformed;
    }
    auto [p, ec] = std::from_chars(head.data() + 9, head.data() + 12, status_);
    if (ec != std::errc() || p != head.data() + 12 || status_ < 100) {
        return state_ = State::malformed;
    }
    bool has_length = false;
    std::size_t pos = head.find("\r\n") + 2;
    while (pos < head.size()) {
        std::size_t eol = head.find("\r\n", pos);
        std::string_view line = head.substr(pos, eol - pos);
        pos = eol + 2;
        if (line.empty()) {
            break;
        }
        std::size_t colon = line.find(':');
        if (colon == std::string_view::npos) {
            return state_ = State::malformed;
        }
        std::string_view name = line.substr(0, colon);
        std::string_view value = line.substr(colon + 1);
        while (!value.empty() && value.front() == ' ') {
            value.remove_prefix(1);
        }
        if (iequals(name, "Content-Length")) {
            auto [q, err] = std::from_chars(value.data(), value.data() + value.size(), body_left_);
            if (err != std::errc() || q != value.data() + value.size()) {
                return state_ = State::malformed;
            }
            has_length = true;
        } else if (iequals(name, "Connection")) {
            close_ = iequals(value, "close");
        }
    }
    if (!has_length) {
        return state_ = State::malformed;
    }
    return State::incomplete;
}

}  // namespace forklab::load
