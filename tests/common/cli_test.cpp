#include <gtest/gtest.h>

#include <vector>

#include "forklab/cli.hpp"

namespace {

struct Parsed {
    std::optional<int> exit;
    forklab::ServerOptions options;
    long workers = 4;
    std::string out;
    std::string err;
};

Parsed parse(std::vector<const char*> args) {
    Parsed p;
    forklab::Cli cli("prog", "a test program");
    forklab::add_server_options(cli, p.options);
    cli.option("workers", "how many", p.workers, 1, 64);
    args.insert(args.begin(), "prog");
    ::testing::internal::CaptureStdout();
    ::testing::internal::CaptureStderr();
    p.exit = cli.parse(static_cast<int>(args.size()), args.data());
    p.out = ::testing::internal::GetCapturedStdout();
    p.err = ::testing::internal::GetCapturedStderr();
    return p;
}

TEST(Cli, DefaultsWithoutArguments) {
    Parsed p = parse({});
    EXPECT_FALSE(p.exit);
    EXPECT_EQ(p.options.listen.to_string(), "127.0.0.1:8080");
    EXPECT_EQ(p.options.graceful_timeout_ms, 10000);
    EXPECT_FALSE(p.options.drills);
}

TEST(Cli, ReadsBothSpellingsOfValues) {
    Parsed p = parse({"--listen", "[::1]:0", "--workers=7", "--drills", "--graceful-timeout",
                      "0.25", "--log-file=/tmp/x.log"});
    ASSERT_FALSE(p.exit) << p.err;
    EXPECT_EQ(p.options.listen.host, "::1");
    EXPECT_EQ(p.workers, 7);
    EXPECT_TRUE(p.options.drills);
    EXPECT_EQ(p.options.graceful_timeout_ms, 250);
    EXPECT_EQ(p.options.log_file, "/tmp/x.log");
}

TEST(Cli, HelpPrintsUsageOnStdoutAndExitsZero) {
    Parsed p = parse({"--help"});
    EXPECT_EQ(p.exit, 0);
    EXPECT_NE(p.out.find("usage: prog"), std::string::npos);
    EXPECT_NE(p.out.find("--workers N"), std::string::npos);
    EXPECT_TRUE(p.err.empty());
}

TEST(Cli, BadInputPrintsTheProblemAndUsageAndExitsTwo) {
    for (auto args : std::vector<std::vector<const char*>>{{"--bogus"},
                                                           {"--workers", "0"},
                                                           {"--workers", "65"},
                                                           {"--workers", "4x"},
                                                           {"--workers"},
                                                           {"--listen", "localhost:80"},
                                                           {"--graceful-timeout", "-1"},
                                                           {"--graceful-timeout", "nan"},
                                                           {"--drills=yes"},
                                                           {"--log-file", ""},
                                                           {"stray"}}) {
        Parsed p = parse(args);
        EXPECT_EQ(p.exit, 2) << args[0];
        EXPECT_NE(p.err.find("prog: "), std::string::npos) << args[0];
        EXPECT_NE(p.err.find("usage: prog"), std::string::npos) << args[0];
    }
}

TEST(Cli, BadValueKeepsThePreviousValue) {
    Parsed p = parse({"--workers", "9", "--workers", "x"});
    EXPECT_EQ(p.exit, 2);
    EXPECT_EQ(p.workers, 9);
}

}  // namespace
