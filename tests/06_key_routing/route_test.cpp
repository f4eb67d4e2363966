/// \file
/// \brief Unit tests of exercise 06's seam (where the key is, who owns it, the routing decision,
/// the hand-back), of `--route` and of the carried message. Built with the reference seam and
/// with the student's.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <set>
#include <string>

#include "carried_message.hpp"
#include "forklab/http.hpp"
#include "harness/http_client.hpp"
#include "route.hpp"
#include "route_config.hpp"

namespace forklab::ch06 {
namespace {

/// A parsed request head.
http::Request parse(const std::string& head) {
    http::RequestParser parser;
    EXPECT_EQ(parser.feed(head), http::RequestParser::State::complete) << head;
    return parser.request();
}

/// A socketpair like a channel, and one standing in for a client connection.
struct Pairs {
    Fd worker_end, master_end, conn, client;
    Pairs() {
        int ch[2];
        int cl[2];
        EXPECT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, ch), 0);
        EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, cl), 0);
        worker_end.reset(ch[0]);
        master_end.reset(ch[1]);
        conn.reset(cl[0]);
        client.reset(cl[1]);
    }
};

TEST(Route, ParsesTheKeySource) {
    EXPECT_EQ(parse_route("path")->source, RouteConfig::Source::path);
    auto header = parse_route("header:X-Route-Key");
    ASSERT_TRUE(header);
    EXPECT_EQ(header->source, RouteConfig::Source::header);
    EXPECT_EQ(header->header, "X-Route-Key");
    EXPECT_FALSE(parse_route("header:"));
    EXPECT_FALSE(parse_route("cookie"));
}

TEST(Route, FindsTheKeyOfARequest) {
    http::Request r = parse("GET /shop/cart?x=1 HTTP/1.1\r\nx-route-key: alice\r\n\r\n");
    EXPECT_EQ(route_key(r, *parse_route("header:X-Route-Key")), "alice");
    EXPECT_EQ(route_key(r, *parse_route("path")), "shop") << "the first segment of the path";
    EXPECT_FALSE(route_key(r, *parse_route("header:X-Other")));
    EXPECT_FALSE(route_key(r, RouteConfig{}));
    EXPECT_FALSE(route_key(parse("GET / HTTP/1.1\r\n\r\n"), *parse_route("path")));
    EXPECT_FALSE(route_key(parse("GET / HTTP/1.1\r\nX-Route-Key:\r\n\r\n"),
                           *parse_route("header:X-Route-Key")))
        << "an empty header is no key";
}

TEST(Route, OwnersAreStableAndSpread) {
    std::set<std::size_t> owners;
    for (int i = 0; i < 100; ++i) {
        std::string key = "key" + std::to_string(i);
        std::size_t owner = owner_of(key, 4);
        EXPECT_LT(owner, 4u);
        EXPECT_EQ(owner, owner_of(key, 4));
        owners.insert(owner);
    }
    EXPECT_EQ(owners.size(), 4u) << "100 keys should reach every one of 4 workers";
}

TEST(Route, OnlyAnotherWorkersKeyGoesElsewhere) {
    RouteConfig route = *parse_route("header:X-Route-Key");
    http::Request keyed = parse("GET / HTTP/1.1\r\nX-Route-Key: alice\r\n\r\n");
    std::size_t owner = owner_of("alice", 3);
    for (std::size_t me = 0; me < 3; ++me) {
        std::optional<std::size_t> to = elsewhere(keyed, route, ch05::ThisWorker{-1, me, 3});
        if (me == owner) {
            EXPECT_FALSE(to) << "worker " << me << " owns alice: it serves her itself";
        } else {
            ASSERT_TRUE(to) << "worker " << me << " does not own alice";
            EXPECT_EQ(*to, owner);
        }
    }
    EXPECT_FALSE(elsewhere(parse("GET / HTTP/1.1\r\n\r\n"), route, ch05::ThisWorker{-1, 0, 3}))
        << "a request without a key is served where it landed";
}

TEST(HandBack, TheConnectionTravelsWithEveryByteRead) {
    Pairs p;
    int number = p.conn.get();
    std::string read = "GET /a HTTP/1.1\r\nX-Route-Key: k\r\n" + std::string(9000, 'h');
    CarriedMessage out;
    ASSERT_TRUE(hand_back(ch05::ThisWorker{p.worker_end.get(), 0, 3}, 2, read, p.conn, out));
    EXPECT_FALSE(p.conn.valid()) << "the worker's copy is closed once sent";
    EXPECT_EQ(::fcntl(number, F_GETFD), -1);
    CarriedMessage in{};
    std::size_t size = 0;
    Fd fd;
    ASSERT_EQ(ch05::recv_fd(p.master_end.get(), &in, sizeof in, size, fd),
              ch05::RecvStatus::received);
    ASSERT_TRUE(valid(in, size)) << "the message is not a whole carried message";
    EXPECT_EQ(in.command, Command::hand_back);
    EXPECT_EQ(in.owner, 2u);
    EXPECT_EQ(std::string(in.data, in.bytes), read) << "the bytes read must travel with it";
    ASSERT_TRUE(fd.valid());
    ASSERT_EQ(::write(p.client.get(), "more", 4), 4);  // the same connection
    char buf[8] = {};
    EXPECT_EQ(::read(fd.get(), buf, sizeof buf), 4);
}

TEST(HandBack, WhatCannotTravelWholeStaysHere) {
    Pairs p;
    CarriedMessage out;
    std::string too_much(max_carried + 1, 'x');
    EXPECT_FALSE(hand_back(ch05::ThisWorker{p.worker_end.get(), 0, 3}, 1, too_much, p.conn, out));
    EXPECT_TRUE(p.conn.valid()) << "a connection that was not sent stays the worker's";
    CarriedMessage in;
    std::size_t size = 0;
    Fd fd;
    EXPECT_EQ(ch05::recv_fd(p.master_end.get(), &in, sizeof in, size, fd),
              ch05::RecvStatus::would_block)
        << "nothing may be sent when the bytes do not fit";
}

TEST(CarriedMessage, OnlyAWholeHandBackOrForwardIsValid) {
    CarriedMessage m;
    m.command = Command::forward;
    m.bytes = 10;
    EXPECT_TRUE(valid(m, carried_header + 10));
    EXPECT_FALSE(valid(m, carried_header + 9)) << "says 10 bytes follow, 9 came";
    EXPECT_FALSE(valid(m, carried_header - 1)) << "shorter than the fixed part";
    m.bytes = max_carried + 1;
    EXPECT_FALSE(valid(m, carried_header + max_carried)) << "more than a message holds";
    m.bytes = 0;
    m.command = Command::connection;
    EXPECT_FALSE(valid(m, carried_header)) << "chapter 05's command is not a carried message";
    m.command = static_cast<Command>(99);
    EXPECT_FALSE(valid(m, carried_header)) << "no such command";
}

}  // namespace
}  // namespace forklab::ch06
