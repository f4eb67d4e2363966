/// \file
/// \brief The bench reads the kit's readiness line exactly, and nothing else as one.
#include <gtest/gtest.h>

#include "bench_server.hpp"
#include "bench_table.hpp"

namespace forklab::load {
namespace {

TEST(BenchServer, ParsesTheReadinessLine) {
    Endpoint at;
    pid_t pid = 0;
    ASSERT_TRUE(parse_readiness("forklab: listening on 127.0.0.1:41234 pid 12345\n", at, pid));
    EXPECT_EQ(at.host, "127.0.0.1");
    EXPECT_EQ(at.port, 41234);
    EXPECT_EQ(pid, 12345);
    ASSERT_TRUE(parse_readiness("forklab: listening on [::1]:8080 pid 7", at, pid));
    EXPECT_EQ(at.host, "::1");
}

TEST(BenchServer, RejectsAnythingElse) {
    Endpoint at;
    pid_t pid = 0;
    for (const char* bad :
         {"", "listening on 127.0.0.1:1 pid 2", "forklab: listening on 127.0.0.1:0 pid 2",
          "forklab: listening on 127.0.0.1:80 pid x",
          "forklab: listening on 127.0.0.1:80 pid 12 extra",
          "forklab: listening on localhost:80 pid 12"}) {
        EXPECT_FALSE(parse_readiness(bad, at, pid)) << bad;
    }
}

TEST(BenchTable, ShowsEachRowAsAShareOfTheCeiling) {
    std::vector<Workload> workloads = {{"tiny", "/", false}, {"keep", "/", true}};
    Cell ceiling{Cell::Status::measured, 20000, 30.0, 1.5, 0, "", 2};
    Cell half{Cell::Status::measured, 10000, 200.0, 4.0, 3, "reset 3", 7};
    Cell none;
    none.status = Cell::Status::no_keep_alive;
    std::vector<Row> rows = {{"ceiling", "", {ceiling, ceiling}, 2, 900, 800},
                             {"ch01_fork_server", "", {half, none}, 1, 1200, -1}};
    std::string md = render_tables(workloads, rows);
    EXPECT_NE(md.find("| ceiling | 20,000 | - | 100% | - | 30.0 | 1.50 | 0 | 2 |"),
              std::string::npos)
        << md;
    EXPECT_NE(
        md.find("| ch01_fork_server | 10,000 | - | 50% | - | 200.0 | 4.00 | 3 (reset 3) | 7 |"),
        std::string::npos)
        << md;
    EXPECT_NE(md.find("| ch01_fork_server | n/a |"), std::string::npos) << md;
    EXPECT_NE(md.find("| ch01_fork_server | 1 | 1200 | - |"), std::string::npos) << md;
    EXPECT_EQ(with_thousands(1234567.4), "1,234,567");
    EXPECT_EQ(md.find("A row above 100%"), std::string::npos) << md;
}

TEST(BenchTable, JudgesEachTargetOnTheMediansOfItsWorkloads) {
    std::vector<Workload> workloads = {{"tiny", "/", false}, {"keep", "/", true}};
    auto cell = [](double rps, long errors) {
        return Cell{Cell::Status::measured, rps, 10.0, 1.0, errors, "", 2};
    };
    std::vector<Row> rows = {{"ceiling", "", {cell(20000, 0), cell(100000, 0)}, 2, 900, 800},
                             {"ch05_fd_passing", "", {cell(18000, 0), cell(94000, 0)}, 3, 1, 1}};
    bool met = true;
    std::string md = render_targets(workloads, rows, met);
    EXPECT_NE(md.find("| ch05_fd_passing >= 90% of ceiling | tiny | 90.0% | yes |"),
              std::string::npos)
        << md;
    EXPECT_NE(md.find("| ch05_fd_passing >= 95% of ceiling | keep | 94.0% | **no** |"),
              std::string::npos)
        << md;
    EXPECT_EQ(md.find("ch03_prefork_flock"), std::string::npos) << "no row, no line: " << md;
    EXPECT_FALSE(met);

    rows[1].cells[1].rps = 96000;
    met = true;
    md = render_targets(workloads, rows, met);
    EXPECT_TRUE(met) << md;
    EXPECT_NE(md.find("| every row without errors | every workload | 0 errors | yes |"),
              std::string::npos)
        << md;

    rows[0].cells[0].errors = 2;  // an error anywhere, even in a reference row, fails the run
    met = true;
    md = render_targets(workloads, rows, met);
    EXPECT_FALSE(met);
    EXPECT_NE(md.find("| 2 errors | **no** |"), std::string::npos) << md;

    met = true;
    EXPECT_EQ(render_targets(workloads, {rows[0]}, met), "") << "no target without its rows";
    EXPECT_TRUE(met);
}

TEST(BenchTable, SaysWhenARowBeatsTheCeiling) {
    std::vector<Workload> workloads = {{"keep", "/", true}};
    Cell ceiling{Cell::Status::measured, 20000, 8.0, 1.5, 0, "", 2};
    Cell more{Cell::Status::measured, 22000, 7.0, 1.7, 0, "", 3};
    std::vector<Row> rows = {{"ceiling", "", {ceiling}, 2, 900, 800},
                             {"ch05_fd_passing", "", {more}, 3, 1100, 400}};
    std::string md = render_tables(workloads, rows);
    EXPECT_NE(md.find("| ch05_fd_passing | 22,000 | - | 110% |"), std::string::npos) << md;
    EXPECT_NE(md.find("A row above 100%"), std::string::npos) << md;
}

TEST(BenchTable, EachCellIsTheMedianRoundAndNoErrorIsLost) {
    auto cell = [](double rps, long errors, const std::string& kinds) {
        return Cell{Cell::Status::measured, rps, rps / 1000, 1.0, errors, kinds, 3};
    };
    Cell none;
    none.status = Cell::Status::no_keep_alive;
    std::vector<Row> rounds = {
        {"ch03", "", {cell(9000, 0, ""), none}, 5, 900, 250},
        {"ch03", "did not stop", {cell(5000, 2, "reset 2"), none}, 5, 901, 251},
        {"ch03", "", {cell(8000, 1, "timeout 1"), none}, 5, -1, -1},
    };
    Row m = median_of(rounds);
    EXPECT_EQ(m.cells[0].rps, 8000);
    EXPECT_EQ(m.cells[0].cpu_us, 8.0) << "the figures of one round, not a mix";
    EXPECT_EQ(m.cells[0].errors, 3);
    EXPECT_EQ(m.cells[0].error_kinds, "reset 2, timeout 1");
    EXPECT_EQ(m.cells[1].status, Cell::Status::no_keep_alive);
    EXPECT_EQ(m.problem, "did not stop");
    EXPECT_EQ(m.master_pss_kib, 901) << "memory from the last round that measured it";
    EXPECT_EQ(median_of({rounds[0], rounds[1]}).cells[0].rps, 5000) << "the lower middle";
    EXPECT_EQ(m.cells[0].rounds, 3);
    EXPECT_EQ(m.cells[0].rps_min, 5000) << "the spread is kept beside the median";
    EXPECT_EQ(m.cells[0].rps_max, 9000);
    EXPECT_DOUBLE_EQ(m.cells[0].spread(), 0.5);
}

/// A measured cell of \p rounds rounds with the median \p rps, between \p lo and \p hi.
Cell spread_cell(double rps, double lo, double hi, int rounds = 3) {
    Cell c{Cell::Status::measured, rps, 10.0, 1.0, 0, "", 2};
    c.rounds = rounds;
    c.rps_min = lo;
    c.rps_max = hi;
    return c;
}

TEST(BenchTable, ShowsEachCellsRangeOverRoundsAndTheShareOfTheForkFloor) {
    std::vector<Workload> workloads = {{"tiny", "/", false}};
    std::vector<Row> rows = {{"ceiling", "", {spread_cell(20000, 19000, 21000)}, 2, 900, 800},
                             {"fork_floor", "", {spread_cell(1000, 900, 1100)}, 1, 800, -1},
                             {"ch01_fork_server", "", {spread_cell(950, 950, 950)}, 1, 900, -1}};
    std::string md = render_tables(workloads, rows);
    EXPECT_NE(md.find("| ceiling | 20,000 | 19,000-21,000 (10%) | 100% | 2000% |"),
              std::string::npos)
        << md;
    EXPECT_NE(md.find("| ch01_fork_server | 950 | 950-950 (0%) | 5% | 95% |"), std::string::npos)
        << md;
}

TEST(BenchTable, WarnsWhenTheCeilingSpreadsMoreThan15Percent) {
    std::vector<Workload> workloads = {{"tiny", "/", false}, {"keep", "/", true}};
    Cell steady = spread_cell(20000, 19000, 21000);  // 10%
    Cell wild = spread_cell(20000, 16000, 21000);    // 25%
    std::vector<Row> calm = {{"ceiling", "", {steady, steady}, 2, 900, 800},
                             {"ch03", "", {wild, wild}, 2, 900, 800}};
    EXPECT_EQ(noise_warning(workloads, calm), "") << "only the ceiling's spread is judged";
    std::vector<Row> noisy = {{"ceiling", "", {steady, wild}, 2, 900, 800}};
    std::string warning = noise_warning(workloads, noisy);
    EXPECT_NE(warning.find("moved 25% between rounds (keep)"), std::string::npos) << warning;
    std::vector<Row> one_round = {{"ceiling", "", {spread_cell(20000, 1000, 30000, 1)}, 2, 9, 8}};
    EXPECT_EQ(noise_warning({workloads[0]}, one_round), "") << "no spread from one round";
}

}  // namespace
}  // namespace forklab::load
