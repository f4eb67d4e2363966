/// \file
/// \brief The bench's chart: one bar per measured cell, drawn to scale, text escaped.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "bench_chart.hpp"

namespace forklab::load {
namespace {

int count_of(const std::string& text, const std::string& what) {
    int n = 0;
    for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) {
        ++n;
    }
    return n;
}

Cell measured(double rps, double lo, double hi) {
    Cell c{Cell::Status::measured, rps, 10.0, 1.0, 0, "", 2};
    c.rounds = 3;
    c.rps_min = lo;
    c.rps_max = hi;
    return c;
}

TEST(BenchChart, DrawsABarPerMeasuredCellToScaleWithItsRange) {
    std::vector<Workload> workloads = {{"tiny <close>", "/", false}, {"keep", "/", true}};
    Cell none;
    none.status = Cell::Status::no_keep_alive;
    std::vector<Row> rows = {
        {"ceiling", "", {measured(20000, 19000, 20000), measured(90000, 80000, 90000)}, 2, 1, 1},
        {"ch01_fork_server", "", {measured(5000, 4000, 6000), none}, 1, 1, -1},
        {"nginx", "", {measured(10000, 9000, 11000), measured(45000, 44000, 46000)}, 0, -1, -1}};
    std::string svg = render_chart_svg(workloads, rows, "a machine & its kernel");
    EXPECT_EQ(svg.rfind("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"720\"", 0), 0u) << svg;
    EXPECT_NE(svg.find("</svg>\n"), std::string::npos);
    EXPECT_EQ(count_of(svg, "<rect x="), 5) << "two rows in the first panel's three, two in keep";
    EXPECT_EQ(count_of(svg, "<line "), 5) << "each bar has its range";
    EXPECT_NE(svg.find("tiny &lt;close&gt;"), std::string::npos) << "titles are escaped";
    EXPECT_NE(svg.find("a machine &amp; its kernel"), std::string::npos);
    EXPECT_NE(svg.find(">5,000 (25%)</text>"), std::string::npos) << svg;
    // The bars span 720 - 160 - 120 = 440 pixels for the top of the panel (the ceiling's 20,000):
    // ch01's 5,000 is a quarter of it.
    EXPECT_NE(svg.find("width=\"110.0\" height=\"14\" fill=\"#3b6fb6\""), std::string::npos) << svg;
    EXPECT_NE(svg.find("fill=\"#e08a2c\""), std::string::npos) << "a peer in its own colour";
}

}  // namespace
}  // namespace forklab::load
