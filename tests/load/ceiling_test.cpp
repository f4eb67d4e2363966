/// \file
/// \brief The ceiling keeps the kit's server contract and serves loadgen without an error.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "harness/proc.hpp"
#include "harness/server.hpp"
#include "harness/wait.hpp"

namespace forklab::load {
namespace {

/// Listening TCP sockets on \p port, from /proc/net/tcp (state 0A is LISTEN).
int listeners_on(int port) {
    std::ifstream tcp("/proc/net/tcp");
    std::string line;
    std::getline(tcp, line);  // the header
    int count = 0;
    while (std::getline(tcp, line)) {
        std::istringstream fields(line);
        std::string slot;
        std::string local;
        std::string remote;
        std::string state;
        fields >> slot >> local >> remote >> state;
        std::size_t colon = local.find(':');
        if (colon != std::string::npos && state == "0A" &&
            std::stoi(local.substr(colon + 1), nullptr, 16) == port) {
            ++count;
        }
    }
    return count;
}

/// A field of loadgen's one-line JSON, as text ("" when absent).
std::string json_field(const std::string& json, const std::string& name) {
    std::size_t at = json.find("\"" + name + "\":");
    if (at == std::string::npos) {
        return "";
    }
    at += name.size() + 3;
    return json.substr(at, json.find_first_of(",}", at) - at);
}

TEST(Ceiling, EveryProcessListensOnThePortTheFirstGot) {
    test::Server ceiling({"--processes", "2"}, FORKLAB_CEILING);
    ASSERT_TRUE(ceiling.ready());
    EXPECT_TRUE(test::eventually([&] { return test::children_of(ceiling.pid()).size() == 1; }));
    EXPECT_TRUE(test::eventually([&] { return listeners_on(ceiling.port()) == 2; }))
        << "two SO_REUSEPORT listeners on port " << ceiling.port();
    EXPECT_EQ(ceiling.stop(), 0);
    EXPECT_TRUE(test::zombie_children(ceiling.pid()).empty());
}

TEST(Ceiling, ServesLoadgenWithoutErrorsBothWays) {
    test::Server ceiling({}, FORKLAB_CEILING);
    ASSERT_TRUE(ceiling.ready());
    std::string target = "127.0.0.1:" + std::to_string(ceiling.port());
    for (std::vector<std::string> mode :
         {std::vector<std::string>{}, std::vector<std::string>{"--keep-alive"},
          std::vector<std::string>{"--path", "/bytes/4000"}}) {
        std::vector<std::string> args = {"--target",      target, "--requests", "200",
                                         "--concurrency", "8",    "--json"};
        args.insert(args.end(), mode.begin(), mode.end());
        test::RunResult r = test::run(FORKLAB_LOADGEN, args);
        std::string what = mode.empty() ? "one request per connection" : mode[0];
        EXPECT_EQ(r.exit_code, 0) << what << "\n" << r.out << r.err;
        EXPECT_EQ(json_field(r.out, "requests"), "200") << what << "\n" << r.out;
        EXPECT_EQ(json_field(r.out, "ok"), "200") << what << "\n" << r.out;
        EXPECT_EQ(json_field(r.out, "errors"), "0") << what << "\n" << r.out;
    }
    EXPECT_EQ(ceiling.stop(), 0);
}

TEST(Loadgen, ReportsAFailedRunWithExitCode1) {
    std::string port;
    {
        test::Server ceiling({}, FORKLAB_CEILING);
        ASSERT_TRUE(ceiling.ready());
        port = std::to_string(ceiling.port());
        EXPECT_EQ(ceiling.stop(), 0);
    }  // nothing listens on that port any more
    test::RunResult r =
        test::run(FORKLAB_LOADGEN, {"--target", "127.0.0.1:" + port, "--requests", "3"});
    EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
    EXPECT_NE(r.out.find("refused 3"), std::string::npos) << r.out;
}

TEST(Loadgen, RejectsBadUsageWithExitCode2) {
    for (const std::vector<std::string>& args : {
             std::vector<std::string>{},
             std::vector<std::string>{"--target", "127.0.0.1"},
             std::vector<std::string>{"--target", "127.0.0.1:1", "--requests", "5", "--duration",
                                      "1"},
             std::vector<std::string>{"--target", "127.0.0.1:1", "--path", "no-slash"},
             std::vector<std::string>{"--target", "127.0.0.1:1", "--concurrency", "0"},
             std::vector<std::string>{"--target", "127.0.0.1:1", "--timeout", "0"},
             std::vector<std::string>{"--target", "127.0.0.1:1", "--bogus"},
         }) {
        test::RunResult r = test::run(FORKLAB_LOADGEN, args);
        EXPECT_EQ(r.exit_code, 2) << r.err;
        EXPECT_NE(r.err.find("usage: loadgen"), std::string::npos) << r.err;
        EXPECT_TRUE(r.out.empty()) << r.out;
    }
}

}  // namespace
}  // namespace forklab::load
