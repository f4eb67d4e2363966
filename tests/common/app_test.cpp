#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

#include "forklab/app.hpp"

namespace {

forklab::Response call(const std::string& target, forklab::AppContext context = {},
                       const std::string& method = "GET") {
    forklab::http::RequestParser p;
    EXPECT_EQ(p.feed(method + " " + target + " HTTP/1.1\r\n\r\n"),
              forklab::http::RequestParser::State::complete);
    return forklab::handle(p.request(), context);
}

TEST(App, Routes) {
    EXPECT_EQ(call("/").body, "Hello, world\n");
    EXPECT_EQ(call("/pid").body, std::to_string(::getpid()) + "\n");
    EXPECT_EQ(call("/bytes/4000").body_size(), 4000u);
    EXPECT_EQ(call("/bytes/0").status, 200);
    EXPECT_EQ(call("/bytes/16777216").body_size(), 16777216u);
    EXPECT_EQ(call("/sleep/250").delay_ms, 250);
    EXPECT_EQ(call("/nope").status, 404);
    EXPECT_EQ(call("/", {}, "POST").status, 405);
    EXPECT_TRUE(call("/", {}, "POST").close);
}

TEST(App, RejectsOutOfRangeArguments) {
    EXPECT_EQ(call("/bytes/16777217").status, 400);
    EXPECT_EQ(call("/bytes/-1").status, 400);
    EXPECT_EQ(call("/bytes/1x").status, 400);
    EXPECT_EQ(call("/bytes/99999999999999999999999").status, 400);
    EXPECT_EQ(call("/sleep/60001").status, 400);
    EXPECT_EQ(call("/sleep/60001").delay_ms, 0);
}

TEST(App, StatusComesFromTheChapter) {
    forklab::AppContext context;
    context.status = [](bool json) { return json ? std::string("{\"a\":1}") : "a: 1\n"; };
    EXPECT_EQ(call("/status", context).body, "a: 1\n");
    auto json = call("/status?json", context);
    EXPECT_EQ(json.body, "{\"a\":1}");
    EXPECT_EQ(json.content_type, "application/json");
}

TEST(App, DrillsOnlyWhenEnabled) {
    EXPECT_EQ(call("/crash").status, 404);
    EXPECT_EQ(call("/hang").drill, forklab::Drill::none);
    forklab::AppContext drills{true, {}};
    EXPECT_EQ(call("/crash", drills).drill, forklab::Drill::crash);
    EXPECT_EQ(call("/hang", drills).drill, forklab::Drill::hang);
}

TEST(App, HeadKeepsTheLengthButNotTheBody) {
    auto r = call("/");
    std::string head = forklab::serialize(r, false, true);
    EXPECT_NE(head.find("Content-Length: 13\r\n"), std::string::npos);
    EXPECT_EQ(head.substr(head.size() - 4), "\r\n\r\n");
    EXPECT_EQ(forklab::serialize(r, false, false), head + "Hello, world\n");
}

TEST(App, ABigBodyIsACountUntilItIsSent) {
    auto r = call("/bytes/16777216");
    EXPECT_TRUE(r.body.empty()) << "/bytes/N must not build its body when it is handled";
    EXPECT_EQ(r.generated, 16777216u);
    std::string head = forklab::serialize_head(r, true);
    EXPECT_NE(head.find("Content-Length: 16777216\r\n"), std::string::npos) << head;
    EXPECT_EQ(forklab::serialize(r, true, true), head);
    std::string whole = forklab::serialize(call("/bytes/5"), false, false);
    EXPECT_EQ(whole.substr(whole.size() - 5), "xxxxx");
    EXPECT_EQ(forklab::generated_chunk(3), "xxx");
    EXPECT_EQ(forklab::generated_chunk(16777216).size(), 65536u);
    EXPECT_TRUE(forklab::generated_chunk(0).empty());
}

// One call sends the head and the start of the body; a second call goes on where the first
// stopped, and a third has nothing left to send.
TEST(App, SendSomeSendsTheHeadThenTheGeneratedBody) {
    int pair[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, pair), 0);
    std::string_view out = "head:";
    std::size_t generated = 70000;  // more than one 64 KiB piece
    std::size_t sent = 0;
    std::string got;
    char buf[1 << 16];
    for (int calls = 0; (!out.empty() || generated > 0) && calls < 100; ++calls) {
        ssize_t n = forklab::send_some(pair[0], out, generated, MSG_NOSIGNAL);
        ASSERT_GT(n, 0);
        sent += static_cast<std::size_t>(n);
        while (got.size() < sent) {  // drain what was sent, so the next call has room
            ssize_t r = ::read(pair[1], buf, sizeof buf);
            ASSERT_GT(r, 0);
            got.append(buf, static_cast<std::size_t>(r));
        }
    }
    EXPECT_TRUE(out.empty());
    EXPECT_EQ(generated, 0u);
    EXPECT_EQ(got, "head:" + std::string(70000, 'x'));
    EXPECT_EQ(forklab::send_some(pair[0], out, generated, MSG_NOSIGNAL), 0) << "nothing left";
    ::close(pair[0]);
    ::close(pair[1]);
}

}  // namespace
