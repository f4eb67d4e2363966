/// \file
/// \brief The fork floor forks one child per connection, reaps every one, and serves loadgen;
/// fork_cost prints its table.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "harness/http_client.hpp"
#include "harness/proc.hpp"
#include "harness/server.hpp"
#include "harness/wait.hpp"

namespace forklab::load {
namespace {

using namespace std::chrono_literals;

TEST(ForkFloor, ForksOneChildPerConnectionAndReapsItWhenTheClientLeaves) {
    test::Server floor({}, FORKLAB_FORK_FLOOR);
    ASSERT_TRUE(floor.ready());
    {
        Fd a = test::connect_to(floor.port());
        Fd b = test::connect_to(floor.port());
        ASSERT_TRUE(a && b);
        EXPECT_TRUE(test::eventually([&] { return test::children_of(floor.pid()).size() == 2; }))
            << "one child for each open connection";
    }  // both clients leave without a request: their children read end-of-file and exit
    EXPECT_TRUE(test::eventually([&] { return test::children_of(floor.pid()).empty(); }))
        << "every child exited and was reaped, none left a zombie";
    EXPECT_EQ(floor.stop(), 0);
}

TEST(ForkFloor, AnswersLikeTheCeilingOneRequestPerConnection) {
    test::Server floor({}, FORKLAB_FORK_FLOOR);
    ASSERT_TRUE(floor.ready());
    test::HttpReply hello = test::get(floor.port(), "/");
    EXPECT_EQ(hello.status, 200) << hello.error;
    EXPECT_EQ(hello.body, "Hello, world\n");
    test::HttpReply four_k = test::get(floor.port(), "/bytes/4000");
    EXPECT_EQ(four_k.body.size(), 4000u) << four_k.error;
    std::string target = "127.0.0.1:" + std::to_string(floor.port());
    test::RunResult r = test::run(
        FORKLAB_LOADGEN, {"--target", target, "--requests", "300", "--concurrency", "8", "--json"});
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_NE(r.out.find("\"ok\":300,"), std::string::npos) << r.out;
    EXPECT_TRUE(test::eventually([&] { return test::children_of(floor.pid()).empty(); }));
    EXPECT_EQ(floor.stop(), 0);
}

TEST(ForkCost, PrintsOneRowPerSizeWithThreeTimings) {
    test::RunResult r = test::run(FORKLAB_FORK_COST, {"--sizes", "1,3", "--budget-ms", "5"}, 30s);
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_NE(r.out.find("| fork + _exit + wait (us) |"), std::string::npos) << r.out;
    for (const char* size : {"| 1 MB | ", "| 3 MB | "}) {
        std::size_t at = r.out.find(size);
        ASSERT_NE(at, std::string::npos) << size << "\n" << r.out;
        std::string row = r.out.substr(at, r.out.find('\n', at) - at);
        EXPECT_EQ(std::count(row.begin(), row.end(), '|'), 5) << row;
        EXPECT_EQ(row.find("| 0 ("), std::string::npos) << "a timing of 0: " << row;
        EXPECT_EQ(std::count(row.begin(), row.end(), '('), 3)
            << "median (lowest), 3 times: " << row;
    }
}

TEST(ForkCost, RejectsABadSizeWithExitCode2) {
    for (const char* sizes : {"0", "2,,64", "lots", "5000"}) {
        test::RunResult r = test::run(FORKLAB_FORK_COST, {"--sizes", sizes});
        EXPECT_EQ(r.exit_code, 2) << sizes << ": " << r.err;
        EXPECT_NE(r.err.find("--sizes"), std::string::npos) << r.err;
    }
}

}  // namespace
}  // namespace forklab::load
