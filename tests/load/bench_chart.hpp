/// \file
/// \brief The bench's tables as a bar chart (hand-written SVG) for the book.
#pragma once

#include <string>
#include <vector>

#include "bench_table.hpp"

namespace forklab::load {

/// One SVG image, 720 pixels wide: a panel per workload, a bar per measured row (its median
/// requests/s, on the panel's own linear scale), a thin line across each bar from the lowest to
/// the highest round, and the figure with its share of the ceiling. Reference rows (`ceiling`,
/// `fork_floor`) are grey, the kit's chapters blue, other rows (peers) orange. Rows without
/// figures in a workload (n/a, not run) are left out of its panel. \p caption goes under the title.
std::string render_chart_svg(const std::vector<Workload>& workloads, const std::vector<Row>& rows,
                             const std::string& caption);

}  // namespace forklab::load
