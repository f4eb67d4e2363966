#include <gtest/gtest.h>
#include <sys/socket.h>

#include "forklab/net.hpp"

namespace {

using forklab::Endpoint;
using forklab::parse_endpoint;

TEST(ParseEndpoint, AcceptsIpv4AndBracketedIpv6) {
    EXPECT_EQ(parse_endpoint("127.0.0.1:8080"), (Endpoint{"127.0.0.1", 8080}));
    EXPECT_EQ(parse_endpoint("0.0.0.0:0"), (Endpoint{"0.0.0.0", 0}));
    EXPECT_EQ(parse_endpoint("[::1]:65535"), (Endpoint{"::1", 65535}));
}

TEST(ParseEndpoint, RejectsWhatIsNotALiteralAndAPort) {
    for (const char* bad :
         {"", "8080", "127.0.0.1", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:-1", "127.0.0.1:80x",
          "localhost:80", "::1:80", "[::1]", "300.1.1.1:80", "[127.0.0.1]x:80"}) {
        EXPECT_FALSE(parse_endpoint(bad)) << bad;
    }
}

TEST(Endpoint, PrintsIpv6WithBrackets) {
    EXPECT_EQ((Endpoint{"::1", 80}).to_string(), "[::1]:80");
    EXPECT_EQ((Endpoint{"127.0.0.1", 80}).to_string(), "127.0.0.1:80");
}

TEST(ListenOn, PortZeroPicksAFreePort) {
    forklab::Fd fd = forklab::listen_on({"127.0.0.1", 0});
    Endpoint bound = forklab::local_endpoint(fd.get());
    EXPECT_EQ(bound.host, "127.0.0.1");
    EXPECT_GT(bound.port, 0);
}

TEST(ListenOn, Ipv6Loopback) {
    forklab::Fd fd;
    try {
        fd = forklab::listen_on({"::1", 0});
    } catch (const std::system_error& e) {
        GTEST_SKIP() << "no IPv6 loopback here: " << e.what();
    }
    EXPECT_EQ(forklab::local_endpoint(fd.get()).host, "::1");
}

TEST(ListenOn, BindFailureNamesTheCallAndAddress) {
    forklab::Fd first = forklab::listen_on({"127.0.0.1", 0});
    Endpoint taken = forklab::local_endpoint(first.get());
    try {
        forklab::listen_on(taken);
        FAIL() << "binding a taken port succeeded";
    } catch (const std::system_error& e) {
        EXPECT_EQ(e.code().value(), EADDRINUSE);
        EXPECT_NE(std::string(e.what()).find("bind " + taken.to_string()), std::string::npos)
            << e.what();
    }
}

}  // namespace
