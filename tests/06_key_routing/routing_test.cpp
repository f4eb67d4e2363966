/// \file
/// \brief Chapter 06: one key, one worker; a handed-back request arrives whole.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <map>
#include <set>

#include "fd_passing_support.hpp"
#include "harness/server.hpp"

namespace forklab::test {
namespace {

using namespace std::chrono_literals;

/// The pid that answers /pid for \p key on a new connection ("" on failure).
std::string owner_of_key(int port, const std::string& key) {
    Client c(port);
    c.get("/pid", "X-Route-Key: " + key + "\r\nConnection: close\r\n");
    HttpReply r = c.reply();
    return r.status == 200 ? r.body : "";
}

TEST(Routing, TheSameKeyAlwaysReachesTheSameWorker) {
    Server server({"--workers", "3", "--route", "header:X-Route-Key"});
    ASSERT_TRUE(server.ready());
    std::set<std::string> owners;
    for (int k = 0; k < 12; ++k) {
        std::string key = "user" + std::to_string(k);
        std::string first = owner_of_key(server.port(), key);
        ASSERT_FALSE(first.empty()) << key;
        owners.insert(first);
        for (int i = 0; i < 8; ++i) {
            EXPECT_EQ(owner_of_key(server.port(), key), first) << "key " << key << ", try " << i;
        }
    }
    EXPECT_GE(owners.size(), 2u) << "every key went to one worker";
    // Requests without a key are served wherever they land.
    EXPECT_EQ(get(server.port(), "/").status, 200);
    std::string status = get(server.port(), "/status?json").body;
    EXPECT_GT(json_numbers(status, "handed_back").at(0), 0) << status;
    EXPECT_EQ(json_numbers(status, "handed_back").at(0), json_numbers(status, "forwarded").at(0))
        << status;
}

TEST(Routing, AHandedBackRequestArrivesWhole) {
    Server server({"--route", "header:X-Route-Key"});
    ASSERT_TRUE(server.ready());
    // A big head (7 KiB of headers), split over two writes, with a second request pipelined
    // behind it: every byte the first worker read must reach the owner.
    std::string filler(7000, 'f');
    std::map<std::string, std::string> owners;
    for (int i = 0; i < 16; ++i) {
        std::string key = std::to_string(i).insert(0, "k");  // not "k" + ...: GCC 12 -Wrestrict
        owners[key] = owner_of_key(server.port(), key);
        ASSERT_FALSE(owners[key].empty());
    }
    auto handed_back = [&] {
        return json_numbers(get(server.port(), "/status?json").body, "handed_back").at(0);
    };
    long before = handed_back();
    for (const auto& [key, owner] : owners) {
        std::string first = "GET /bytes/1234 HTTP/1.1\r\nX-Route-Key: " + key;
        first += "\r\nX-Fill: " + filler + "\r\n\r\n";
        std::string second =
            "GET /pid HTTP/1.1\r\nX-Route-Key: " + key + "\r\nConnection: close\r\n\r\n";
        Client c(server.port());
        int one = 1;
        ::setsockopt(c.fd(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        ASSERT_TRUE(c.send(first.substr(0, 3000)));
        ASSERT_TRUE(c.send(first.substr(3000) + second));
        HttpReply a = c.reply();
        ASSERT_TRUE(a.complete) << "key " << key << ": " << a.error;
        EXPECT_EQ(a.status, 200);
        EXPECT_EQ(a.body, std::string(1234, 'x'));
        HttpReply b = c.reply();
        ASSERT_TRUE(b.complete) << "the pipelined request was lost: " << b.error;
        EXPECT_EQ(b.body, owner) << "key " << key;
        EXPECT_TRUE(c.closed_within(1s));
    }
    EXPECT_GT(handed_back() - before, 0) << "no big request was handed back";
}

TEST(Routing, ThePathsFirstSegmentCanBeTheKey) {
    Server server({"--workers", "3", "--route", "path"});
    ASSERT_TRUE(server.ready());
    std::set<std::string> pids;
    for (int i = 0; i < 12; ++i) {
        HttpReply r = get(server.port(), "/pid");
        ASSERT_EQ(r.status, 200) << r.error;
        pids.insert(r.body);
    }
    EXPECT_EQ(pids.size(), 1u) << "every /pid carries the key \"pid\"";
}

}  // namespace
}  // namespace forklab::test
