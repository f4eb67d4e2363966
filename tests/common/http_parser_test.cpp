#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "forklab/http.hpp"

namespace {

using forklab::http::RequestParser;
using State = RequestParser::State;

TEST(RequestParser, ParsesAWholeRequest) {
    RequestParser p;
    ASSERT_EQ(p.feed("GET /bytes/10?x=1 HTTP/1.1\r\nHost: a\r\nX-Route-Key:  k1 \r\n\r\n"),
              State::complete);
    const auto& r = p.request();
    EXPECT_EQ(r.method, "GET");
    EXPECT_EQ(r.target, "/bytes/10?x=1");
    EXPECT_EQ(r.path(), "/bytes/10");
    EXPECT_EQ(r.query(), "x=1");
    EXPECT_EQ(r.minor_version, 1);
    EXPECT_EQ(r.header("x-route-key"), "k1");
    EXPECT_EQ(r.header("HOST"), "a");
    EXPECT_FALSE(r.header("missing"));
    EXPECT_TRUE(r.keep_alive);
    EXPECT_FALSE(r.has_body);
}

// One read() may hold any part of a request: feeding a byte at a time must give the same result.
TEST(RequestParser, NeverAssumesOneReadHoldsARequest) {
    std::string text = "HEAD /pid HTTP/1.0\r\nConnection: keep-alive\r\n\r\n";
    RequestParser p;
    for (std::size_t i = 0; i + 1 < text.size(); ++i) {
        ASSERT_EQ(p.feed(text.substr(i, 1)), State::incomplete) << "at byte " << i;
    }
    ASSERT_EQ(p.feed(text.substr(text.size() - 1)), State::complete);
    EXPECT_EQ(p.request().method, "HEAD");
    EXPECT_EQ(p.request().minor_version, 0);
    EXPECT_TRUE(p.request().keep_alive);
}

TEST(RequestParser, KeepsPipelinedRequestsForNext) {
    RequestParser p;
    ASSERT_EQ(p.feed("GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\nConnection: close\r\n\r\nGET /c"),
              State::complete);
    EXPECT_EQ(p.request().target, "/a");
    ASSERT_EQ(p.next(), State::complete);
    EXPECT_EQ(p.request().target, "/b");
    EXPECT_FALSE(p.request().keep_alive);
    EXPECT_EQ(p.next(), State::incomplete);
    EXPECT_EQ(p.buffered(), "GET /c");
    ASSERT_EQ(p.feed(" HTTP/1.1\r\n\r\n"), State::complete);
    EXPECT_EQ(p.request().target, "/c");
}

TEST(RequestParser, AcceptsBareLineFeeds) {
    RequestParser p;
    ASSERT_EQ(p.feed("GET / HTTP/1.1\nHost: x\n\n"), State::complete);
    EXPECT_EQ(p.request().header("host"), "x");
}

TEST(RequestParser, KeepAliveFollowsVersionAndConnection) {
    struct Case {
        const char* text;
        bool keep_alive;
    };
    for (Case c : {Case{"GET / HTTP/1.1\r\n\r\n", true}, Case{"GET / HTTP/1.0\r\n\r\n", false},
                   Case{"GET / HTTP/1.1\r\nConnection: Close\r\n\r\n", false},
                   Case{"GET / HTTP/1.1\r\nConnection: foo, close\r\n\r\n", false},
                   Case{"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", true}}) {
        RequestParser p;
        ASSERT_EQ(p.feed(c.text), State::complete) << c.text;
        EXPECT_EQ(p.request().keep_alive, c.keep_alive) << c.text;
    }
}

TEST(RequestParser, NotesABody) {
    RequestParser p;
    ASSERT_EQ(p.feed("GET / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"), State::complete);
    EXPECT_TRUE(p.request().has_body);
}

struct Bad {
    std::string text;
    int status;
};

class RequestParserErrors : public ::testing::TestWithParam<Bad> {};

TEST_P(RequestParserErrors, AnswersTheRightStatus) {
    RequestParser p;
    ASSERT_EQ(p.feed(GetParam().text), State::error);
    EXPECT_EQ(p.error_status(), GetParam().status);
    EXPECT_EQ(p.feed("GET / HTTP/1.1\r\n\r\n"), State::error) << "an error is final";
}

INSTANTIATE_TEST_SUITE_P(
    Limits, RequestParserErrors,
    ::testing::Values(
        Bad{"GET /" + std::string(4100, 'a') + " HTTP/1.1\r\n\r\n", 414},
        Bad{"GET /" + std::string(4100, 'a'), 414},  // no line end yet, already too long
        Bad{"GET / HTTP/1.1\r\nX: " + std::string(8200, 'b') + "\r\n\r\n", 431},
        Bad{"GET / HTTP/1.1\r\nX: " + std::string(8200, 'b'), 431},
        Bad{std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", 15), 400},
        Bad{"GET /\r\n\r\n", 400}, Bad{"GET  / HTTP/1.1\r\n\r\n", 400},
        Bad{"GET / HTTP/1.1 extra\r\n\r\n", 400}, Bad{"GET x HTTP/1.1\r\n\r\n", 400},
        Bad{"G(T / HTTP/1.1\r\n\r\n", 400}, Bad{"GET / HTTX/1.1\r\n\r\n", 400},
        Bad{"GET / HTTP/2.0\r\n\r\n", 505}, Bad{"GET / HTTP/1.1\r\nNo colon\r\n\r\n", 400},
        Bad{"GET / HTTP/1.1\r\nA: b\r\n folded\r\n\r\n", 400},
        Bad{"GET / HTTP/1.1\r\nA: b\x01\r\n\r\n", 400},
        Bad{"GET / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n", 400}));

// Requests a proxy could frame differently from us (request smuggling) are refused, not guessed.
INSTANTIATE_TEST_SUITE_P(
    Framing, RequestParserErrors,
    ::testing::Values(
        Bad{"GET / HTTP/1.1\r\nContent-Length: 0\r\nContent-Length: 40\r\n\r\n", 400},
        Bad{"GET / HTTP/1.1\r\nContent-Length: 5, 6\r\n\r\n", 400},
        Bad{"GET / HTTP/1.1\r\nContent-Length: \r\n\r\n", 400},
        Bad{"GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400},
        Bad{"GET / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n", 400},
        Bad{"GET / HTTP/1.1\r\nContent-Length : 5\r\n\r\n", 400},
        Bad{"GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", 400},
        Bad{"GET / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
        Bad{"GET / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 400},
        Bad{"GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
            400},
        Bad{"GET / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 400},
        Bad{"GET / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
        Bad{"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400}));

TEST(RequestParser, OneLengthSaidTwiceIsOneLength) {
    for (const char* text : {"GET / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n",
                             "GET / HTTP/1.1\r\nContent-Length: 5, 5\r\n\r\n"}) {
        RequestParser p;
        ASSERT_EQ(p.feed(text), State::complete) << text;
        EXPECT_TRUE(p.request().has_body) << text;
    }
    RequestParser p;
    ASSERT_EQ(p.feed("GET / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"),
              State::complete);
    EXPECT_TRUE(p.request().has_body);
}

// A flood of empty lines is no request at all: it must not be kept, or scanned, without end.
TEST(RequestParser, EmptyLinesBeforeARequestCountAgainstTheHeadLimit) {
    RequestParser p;
    ASSERT_EQ(p.feed(std::string(forklab::http::max_head, '\n')), State::incomplete);
    ASSERT_EQ(p.feed("G"), State::error);
    EXPECT_EQ(p.error_status(), 431);

    RequestParser flooded;
    std::string piece(4096, '\r');
    for (std::size_t i = 1; i < piece.size(); i += 2) {
        piece[i] = '\n';
    }
    State state = State::incomplete;
    std::size_t fed = 0;
    for (; fed < (1u << 20) && state == State::incomplete; fed += piece.size()) {
        state = flooded.feed(piece);
        EXPECT_LE(flooded.buffered().size(), forklab::http::max_head + piece.size());
    }
    EXPECT_EQ(state, State::error);
    EXPECT_EQ(flooded.error_status(), 431);
    EXPECT_LE(fed, forklab::http::max_head + piece.size());
}

// What is already wrong is refused at once: a client sending garbage (a TLS handshake, another
// protocol) gets 400 now, not 408 when the read timeout ends.
TEST(RequestParser, ARequestLineFailsAtItsFirstWrongByte) {
    for (std::string text : {std::string("GARBAGE\n"), std::string("\x16\x03\x01\x02\x00", 5),
                             std::string("G(T"), std::string("GET x"), std::string("GET /a\r"),
                             std::string("GET /\n"), std::string("GET / HTTX"),
                             std::string("GET / HTTP/1.1 "), std::string("GET / HTTP/1.1\rX")}) {
        RequestParser p;
        EXPECT_EQ(p.feed(text), State::error) << text;
        EXPECT_EQ(p.error_status(), 400) << text;
    }
    RequestParser p;
    EXPECT_EQ(p.feed(std::string(forklab::http::max_request_line + 1, 'A')), State::error)
        << "no space within the limit";
    EXPECT_EQ(p.error_status(), 414);
}

/// Everything a parser says about \p text fed in the pieces that \p cuts mark: each request's
/// method and target, then the final state and status.
std::string outcome(const std::string& text, const std::vector<std::size_t>& cuts) {
    RequestParser p;
    std::string said;
    std::size_t from = 0;
    auto drain = [&](State s) {
        for (; s == State::complete; s = p.next()) {
            said += p.request().method + " " + p.request().target + "|";
        }
        return s;
    };
    State s = State::incomplete;
    for (std::size_t cut : cuts) {
        s = drain(p.feed(std::string_view(text).substr(from, cut - from)));
        from = cut;
    }
    s = drain(p.feed(std::string_view(text).substr(from)));
    return said + (s == State::error ? std::to_string(p.error_status()) : "incomplete");
}

// 414 and 431 are decided on the bytes, never on how reads happened to split them: a request line
// of exactly the limit is served even when its CR and its LF come in different reads.
TEST(RequestParser, TheLimitsDoNotDependOnHowReadsSplitTheBytes) {
    using forklab::http::max_head;
    using forklab::http::max_request_line;
    std::string at_line_limit = "GET /" + std::string(max_request_line - 14, 'a') + " HTTP/1.1";
    ASSERT_EQ(at_line_limit.size(), max_request_line);
    std::string head_pad = "GET / HTTP/1.1\r\nX: ";
    std::string at_head_limit =
        head_pad + std::string(max_head - head_pad.size() - 4, 'b') + "\r\n\r\n";
    ASSERT_EQ(at_head_limit.size(), max_head);
    struct Case {
        std::string text;
        std::string expected;
    };
    std::vector<Case> cases = {
        {at_line_limit + "\r\n\r\nGET /n HTTP/1.1\r\n\r\n",
         "GET /" + at_line_limit.substr(5, max_request_line - 14) + "|GET /n|incomplete"},
        {"GET /a" + at_line_limit.substr(5) + "\r\n\r\n", "414"},
        {at_line_limit + "\n\n",
         "GET /" + at_line_limit.substr(5, max_request_line - 14) + "|incomplete"},
        {at_head_limit + "GET /n HTTP/1.1\r\n\r\n", "GET /|GET /n|incomplete"},
        {"\n" + at_head_limit, "431"},
        {"\r\n\r\nGET /x HTTP/1.1\r\nA: b\r\n\r\nG(T", "GET /x|400"},
    };
    for (const Case& c : cases) {
        ASSERT_EQ(outcome(c.text, {}), c.expected) << "whole: " << c.text.substr(0, 40);
        // One cut near every line end (CR | LF among them) and every 61st byte elsewhere.
        for (std::size_t cut = 1; cut < c.text.size(); ++cut) {
            std::size_t lf = c.text.find('\n', cut > 8 ? cut - 8 : 0);
            if (cut % 61 == 0 || (lf != std::string::npos && lf < cut + 8)) {
                ASSERT_EQ(outcome(c.text, {cut}), c.expected) << "cut at " << cut;
            }
        }
        std::vector<std::size_t> bytes;
        for (std::size_t i = 1; i < c.text.size(); ++i) {
            bytes.push_back(i);
        }
        ASSERT_EQ(outcome(c.text, bytes), c.expected) << "a byte at a time";
    }
}

TEST(ResponseHead, HasLengthAndConnection) {
    EXPECT_EQ(forklab::http::response_head(404, "text/plain", 10, false),
              "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 10\r\n"
              "Connection: close\r\n\r\n");
    EXPECT_NE(forklab::http::response_head(200, "text/plain", 0, true).find("keep-alive"),
              std::string::npos);
}

TEST(HeaderText, TokensAreFoundInAnyCaseAndSpacing) {
    using forklab::http::has_token;
    EXPECT_TRUE(has_token("Keep-Alive", "keep-alive"));
    EXPECT_TRUE(has_token("Upgrade,  close\t", "close"));
    EXPECT_FALSE(has_token("closed, keep-alive-ish", "close"));
    EXPECT_FALSE(has_token("", "close"));
    EXPECT_EQ(forklab::http::trim(" \t value \t"), "value");
    EXPECT_TRUE(forklab::http::iequals("Content-Length", "content-LENGTH"));
    EXPECT_FALSE(forklab::http::iequals("Content-Length", "Content-Lengths"));
}

}  // namespace
