/// \file
/// \brief The load client's parser: a response counts only when all of it has arrived, well-formed.
#include <gtest/gtest.h>

#include <string>

#include "response_parser.hpp"

namespace forklab::load {
namespace {

using State = ResponseParser::State;

const std::string hello =
    "HTTP/1.1 200 OK\r\nContent-Length: 13\r\nConnection: close\r\n\r\nHello, world\n";

TEST(ResponseParser, CompletesOnlyWithTheLastByteWhateverThePieces) {
    // Every way to cut the response in two, and one byte at a time.
    for (std::size_t cut = 0; cut <= hello.size(); ++cut) {
        ResponseParser p;
        State first = p.feed(std::string_view(hello).substr(0, cut));
        EXPECT_EQ(first, cut == hello.size() ? State::complete : State::incomplete) << cut;
        EXPECT_EQ(p.feed(std::string_view(hello).substr(cut)), State::complete) << cut;
        EXPECT_EQ(p.status(), 200);
        EXPECT_TRUE(p.close());
    }
    ResponseParser p;
    for (std::size_t i = 0; i + 1 < hello.size(); ++i) {
        ASSERT_EQ(p.feed(hello.substr(i, 1)), State::incomplete) << i;
    }
    EXPECT_EQ(p.feed(hello.substr(hello.size() - 1)), State::complete);
}

TEST(ResponseParser, ResetReadsTheNextResponse) {
    ResponseParser p;
    ASSERT_EQ(p.feed(hello), State::complete);
    p.reset();
    EXPECT_TRUE(p.empty());
    EXPECT_EQ(p.feed("HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n"), State::complete);
    EXPECT_EQ(p.status(), 404);
    EXPECT_FALSE(p.close());
}

TEST(ResponseParser, ABodyOfThousandsOfBytesIsCountedExactly) {
    std::string head = "HTTP/1.1 200 OK\r\nContent-Length: 4000\r\n\r\n";
    ResponseParser p;
    EXPECT_EQ(p.feed(head + std::string(1000, 'x')), State::incomplete);
    EXPECT_EQ(p.feed(std::string(2999, 'x')), State::incomplete);
    EXPECT_EQ(p.feed("x"), State::complete);
    p.reset();
    EXPECT_EQ(p.feed(head + std::string(4001, 'x')), State::malformed) << "one byte too many";
}

TEST(ResponseParser, ReadsWhetherTheServerWillClose) {
    struct Case {
        const char* head;
        bool close;
    };
    for (Case c :
         {Case{"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", false},
          Case{"HTTP/1.1 200 OK\r\nConnection: Close\r\nContent-Length: 0\r\n\r\n", true},
          Case{"HTTP/1.1 200 OK\r\nConnection: keep-alive, close\r\nContent-Length: 0\r\n\r\n",
               true},
          Case{"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", true},
          Case{"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n", false}}) {
        ResponseParser p;
        ASSERT_EQ(p.feed(c.head), State::complete) << c.head;
        EXPECT_EQ(p.close(), c.close) << c.head;
    }
}

TEST(ResponseParser, WhatIsNotAWholeWellFormedResponseIsMalformed) {
    for (const std::string& bad : {
             std::string("HTTP/1.1 200 OK\r\n\r\n"),  // no Content-Length
             std::string("HTTX/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
             std::string("HTTP/1.1 2x0 OK\r\nContent-Length: 0\r\n\r\n"),
             std::string("HTTP/1.1 2000 OK\r\nContent-Length: 0\r\n\r\n"),
             std::string("HTTP/1.1 099 OK\r\nContent-Length: 0\r\n\r\n"),
             std::string("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nabc"),
             std::string("HTTP/1.1 200 OK\r\nContent-Length: z\r\n\r\n"),
             std::string("HTTP/1.1 200 OK\r\nContent-Length: \r\n\r\n"),
             std::string("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n"),
             std::string("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"),
             std::string("HTTP/1.1 200 OK\r\nContent-Length: 99999999999\r\n\r\n"),
             std::string(
                 "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 0\r\n\r\n"),
             std::string("HTTP/1.1 200 OK\r\nno colon here\r\nContent-Length: 0\r\n\r\n"),
             std::string("HTTP/1.1 200 OK\r\nX: a\r\n folded\r\nContent-Length: 0\r\n\r\n"),
             std::string("garbage\r\n\r\n"),
         }) {
        ResponseParser p;
        EXPECT_EQ(p.feed(bad), State::malformed) << bad;
        EXPECT_EQ(p.feed("more"), State::malformed) << "malformed is final";
    }
}

TEST(ResponseParser, BytesAfterACompleteResponseAreMalformed) {
    ResponseParser p;
    ASSERT_EQ(p.feed("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx"), State::complete);
    EXPECT_EQ(p.feed(""), State::complete) << "no bytes, no change";
    EXPECT_EQ(p.feed("y"), State::malformed);
}

TEST(ResponseParser, AHeadWithoutEndIsMalformedOnceTooLong) {
    ResponseParser p;
    std::string line = "X-Filler: " + std::string(90, 'a') + "\r\n";
    ASSERT_EQ(p.feed("HTTP/1.1 200 OK\r\n"), State::incomplete);
    State s = State::incomplete;
    for (std::size_t sent = 0; s == State::incomplete && sent < 2 * ResponseParser::max_head;
         sent += line.size()) {
        s = p.feed(line);
    }
    EXPECT_EQ(s, State::malformed);
}

}  // namespace
}  // namespace forklab::load
