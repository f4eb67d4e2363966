#include <gtest/gtest.h>

#include <string>

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
