/// \file
/// \brief The bench measures a row, prints and writes its table, and leaves no process behind.
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>

#include "harness/proc.hpp"
#include "harness/server.hpp"
#include "harness/temp_dir.hpp"

namespace forklab::load {
namespace {

using procfs::slurp;

TEST(Bench, MeasuresTheCeilingAndStopsIt) {
    test::TempDir dir("forklab-bench-test");
    std::string page = dir / "bench.md";
    std::string chart = dir / "bench.svg";
    // The harness made this process a subreaper: a server the bench failed to stop would become
    // our child when the bench exits.
    test::RunResult r =
        test::run(FORKLAB_BENCH,
                  {"--only", "ceiling", "--rounds", "2", "--duration", "0.3", "--concurrency", "4",
                   "--output", page, "--chart", chart, "--no-fork-cost"},
                  std::chrono::seconds(30));
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_NE(r.out.find("| ceiling | "), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("| 100% |"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find(" cores, Linux "), std::string::npos) << r.out;
    EXPECT_NE(r.err.find("[bench] ceiling: GET /, one request per connection"), std::string::npos)
        << r.err;
    EXPECT_NE(r.err.find("[bench] round 2 of 2"), std::string::npos) << r.err;
    EXPECT_NE(r.out.find("the median of 2 rounds"), std::string::npos) << r.out;
    EXPECT_TRUE(test::children_of(::getpid()).empty()) << "a server outlived the bench";
    std::string written = slurp(page);
    EXPECT_EQ(written.rfind("# Bench results {#bench_results}\n", 0), 0u) << written;
    EXPECT_NE(written.find("\\image html bench.svg"), std::string::npos) << written;
    EXPECT_EQ(written.find("What a fork costs"), std::string::npos) << "--no-fork-cost";
    std::string svg = slurp(chart);
    EXPECT_EQ(svg.rfind("<svg ", 0), 0u) << svg;
    EXPECT_NE(svg.find(">ceiling</text>"), std::string::npos) << svg;
}

TEST(Bench, MeasuresTheForkFloorAndPrintsWhatAForkCosts) {
    test::RunResult r = test::run(FORKLAB_BENCH,
                                  {"--only", "ceiling,fork_floor", "--rounds", "1", "--duration",
                                   "0.3", "--concurrency", "4"},
                                  std::chrono::seconds(90));
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_NE(r.out.find("| fork_floor | "), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("| fork_floor | n/a |"), std::string::npos)
        << "the fork floor closes after each answer: no keep-alive row\n"
        << r.out;
    EXPECT_NE(r.out.find("### What a fork costs"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("| 512 MB | "), std::string::npos) << r.out;
    EXPECT_TRUE(test::children_of(::getpid()).empty()) << "a server outlived the bench";
}

TEST(Bench, RejectsAnUnknownRowWithExitCode2) {
    test::RunResult r = test::run(FORKLAB_BENCH, {"--only", "no_such_design"});
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_NE(r.err.find("no_such_design"), std::string::npos) << r.err;
}

TEST(Bench, CountsAPeerThatRefusesAsAFailedRow) {
    test::RunResult r = test::run(
        FORKLAB_BENCH,
        {"--only", "gone", "--peer", "gone=127.0.0.1:1", "--duration", "0.2", "--no-fork-cost"},
        std::chrono::seconds(30));
    EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
    EXPECT_NE(r.out.find("| gone | 0 | "), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("refused"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace forklab::load
