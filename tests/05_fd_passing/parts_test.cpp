/// \file
/// \brief Unit tests of chapter 05's pure parts: dispatch, key routing and the deadline lists.
#include <gtest/gtest.h>

#include <set>
#include <vector>

#include "dispatch.hpp"
#include "forklab/http.hpp"
#include "route.hpp"
#include "timers.hpp"

namespace forklab::ch05 {
namespace {

using std::chrono::milliseconds;

TEST(Dispatch, PicksTheLeastLoadedReadyWorker) {
    std::vector<Candidate> c = {{5, true}, {2, true}, {1, false}, {3, true}};
    EXPECT_EQ(least_loaded(c, 0, 0, 100), 1u);
    EXPECT_EQ(least_loaded(c, 2, 0, 100), 1u);
    EXPECT_EQ(least_loaded(c, 0, 1u << 1, 100), 3u) << "a worker already tried is skipped";
    EXPECT_EQ(least_loaded(c, 0, 0, 2), c.size()) << "every ready worker is at the cap";
    EXPECT_EQ(least_loaded(c, 0, 0b1011, 100), c.size());
}

TEST(Dispatch, AStartingWorkerIsChosenOnlyWhenNoStartedOneCan) {
    std::vector<Candidate> c = {{0, true, true}, {9, true, false}};
    EXPECT_EQ(least_loaded(c, 0, 0, 100), 1u);
    EXPECT_EQ(least_loaded(c, 0, 0, 5), 0u) << "the started one is at the cap";
    EXPECT_EQ(least_loaded(c, 0, 1u << 1, 100), 0u) << "the started one is full";
}

TEST(Dispatch, EqualWorkersTakeTurns) {
    std::vector<Candidate> c = {{0, true}, {0, true}, {0, true}};
    std::set<std::size_t> chosen;
    for (std::size_t turn = 0; turn < 3; ++turn) {
        chosen.insert(least_loaded(c, turn, 0, 10));
    }
    EXPECT_EQ(chosen.size(), 3u);
}

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
    http::RequestParser parser;
    ASSERT_EQ(parser.feed("GET /shop/cart?x=1 HTTP/1.1\r\nx-route-key: alice\r\n\r\n"),
              http::RequestParser::State::complete);
    EXPECT_EQ(route_key(parser.request(), *parse_route("header:X-Route-Key")), "alice");
    EXPECT_EQ(route_key(parser.request(), *parse_route("path")), "shop");
    EXPECT_FALSE(route_key(parser.request(), *parse_route("header:X-Other")));
    EXPECT_FALSE(route_key(parser.request(), RouteConfig{}));
    http::RequestParser root;
    ASSERT_EQ(root.feed("GET / HTTP/1.1\r\n\r\n"), http::RequestParser::State::complete);
    EXPECT_FALSE(route_key(root.request(), *parse_route("path")));
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
    EXPECT_EQ(owners.size(), 4u);
}

TEST(Timers, TheHeadIsTheEarliestAndRearmingMovesToTheTail) {
    TimerList list(milliseconds(100));
    TimerHook a, b, c;
    auto t0 = Clock::now();
    list.arm(a, t0);
    list.arm(b, t0 + milliseconds(1));
    list.arm(c, t0 + milliseconds(2));
    EXPECT_EQ(list.front(), &a);
    list.arm(a, t0 + milliseconds(3));  // activity: a goes to the back
    EXPECT_EQ(list.front(), &b);
    EXPECT_EQ(a.deadline, t0 + milliseconds(103));
    disarm(b);
    EXPECT_EQ(list.front(), &c);
    disarm(c);
    disarm(a);
    EXPECT_EQ(list.front(), nullptr);
    disarm(a);  // not in a list: nothing happens
}

TEST(Timers, ArmingMovesBetweenLists) {
    TimerList idle(milliseconds(5000));
    TimerList reading(milliseconds(1000));
    TimerHook h;
    auto now = Clock::now();
    idle.arm(h, now);
    reading.arm(h, now);
    EXPECT_EQ(idle.front(), nullptr);
    EXPECT_EQ(reading.front(), &h);
    EXPECT_EQ(h.list, &reading);
}

}  // namespace
}  // namespace forklab::ch05
