/// \file
/// \brief libFuzzer target of the HTTP request parser (tests/fuzz/run.sh builds and runs it).
///
/// Each input is parsed three ways: whole, a byte at a time, and in pseudo-random pieces chosen
/// from a hash of the input. Every way must say the same thing (the same requests, then the same
/// final state and status), and every step must keep the parser's promises: a complete request
/// is well formed, no head is longer than max_head, buffered() is exactly the unparsed tail of
/// what was fed, each request's head parses alone to the same request, and an error is final.
/// A broken promise aborts, which libFuzzer reports as a finding.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "forklab/http.hpp"

namespace {

using forklab::http::Request;
using forklab::http::RequestParser;
using State = RequestParser::State;

void check(bool ok, const char* what) {
    if (!ok) {
        std::fprintf(stderr, "broken promise: %s\n", what);
        std::abort();
    }
}

/// Everything observable about one request, as text.
std::string describe(const Request& r) {
    std::string s = r.method + " " + r.target + " 1." + std::to_string(r.minor_version);
    for (const auto& [name, value] : r.headers) {
        s += "\n" + name + ": " + value;
    }
    s += r.keep_alive ? "\nkeep-alive" : "\nclose";
    s += r.has_body ? " body" : "";
    return s;
}

/// RFC 9110's own wording of a token: visible ASCII except the delimiters.
bool is_token(std::string_view s) {
    static constexpr std::string_view delimiters = "\"(),/:;<=>?@[\\]{}";
    for (char c : s) {
        auto u = static_cast<unsigned char>(c);
        if (u <= 0x20 || u >= 0x7f || delimiters.find(c) != delimiters.npos) {
            return false;
        }
    }
    return !s.empty();
}

/// A request returned after \p head (its bytes from the end of the one before) must be what a
/// fresh parser makes of those bytes alone.
void check_request(const Request& r, std::string_view head) {
    check(is_token(r.method), "the method is a token");
    check(!r.target.empty() && r.target.front() == '/', "the target starts with /");
    check(r.minor_version == 0 || r.minor_version == 1, "HTTP/1.0 or HTTP/1.1");
    check(!head.empty() && head.size() <= forklab::http::max_head, "a head within max_head");
    check(head.back() == '\n', "a head ends with its empty line");
    RequestParser alone;
    check(alone.feed(head) == State::complete, "the head alone is complete");
    check(alone.buffered().empty(), "the head alone leaves nothing");
    check(describe(alone.request()) == describe(r), "the head alone says the same");
}

/// Feeds \p input in pieces ending at \p cuts (then the rest), returns what the parser said.
std::string parse_in_pieces(std::string_view input, const std::vector<std::size_t>& cuts) {
    RequestParser p;
    std::string said;
    std::size_t fed = 0;
    std::size_t head_start = 0;  // where the current request's bytes begin in input
    State state = State::incomplete;
    auto feed = [&](std::size_t upto) {
        state = p.feed(input.substr(fed, upto - fed));
        fed = upto;
        while (state == State::complete) {
            std::size_t end = fed - p.buffered().size();
            check(end > head_start && end <= fed, "a request takes bytes");
            check(p.buffered().substr(0, 64) == input.substr(end, 64).substr(0, fed - end),
                  "buffered() is what follows");
            check_request(p.request(), input.substr(head_start, end - head_start));
            said += describe(p.request()) + "\n--\n";
            head_start = end;
            state = p.next();
        }
        check(p.empty() == p.buffered().empty(), "empty() is buffered().empty()");
        if (state == State::incomplete) {
            check(p.buffered().size() == fed - head_start, "an incomplete head is buffered whole");
            check(p.buffered().size() <= forklab::http::max_head, "an incomplete head is bounded");
        }
    };
    for (std::size_t cut : cuts) {
        feed(cut);
        if (state == State::error) {
            break;
        }
    }
    if (state != State::error) {
        feed(input.size());
    }
    if (state == State::error) {
        int status = p.error_status();
        check(status == 400 || status == 414 || status == 431 || status == 505, "a known status");
        check(p.feed("GET / HTTP/1.1\r\n\r\n") == State::error, "an error is final (feed)");
        check(p.next() == State::error && p.error_status() == status, "an error is final (next)");
        return said + "error " + std::to_string(status);
    }
    check(p.buffered() == input.substr(head_start), "what is left is the tail of the input");
    return said + "incomplete: " + std::string(p.buffered());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view input(reinterpret_cast<const char*>(data), size);
    std::string whole = parse_in_pieces(input, {});

    std::vector<std::size_t> bytes;
    for (std::size_t i = 1; i < size; ++i) {
        bytes.push_back(i);
    }
    check(parse_in_pieces(input, bytes) == whole, "a byte at a time says what whole says");

    std::uint64_t h = 1469598103934665603ull;  // FNV-1a of the input seeds the piece sizes
    for (char c : input) {
        h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
    }
    std::vector<std::size_t> pieces;
    for (std::size_t at = 0;;) {
        h ^= h << 13;
        h ^= h >> 7;
        h ^= h << 17;
        at += 1 + h % 64;
        if (at >= size) {
            break;
        }
        pieces.push_back(at);
    }
    check(parse_in_pieces(input, pieces) == whole, "random pieces say what whole says");
    return 0;
}
