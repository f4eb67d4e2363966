/// \file
/// \brief Drawing the bench's bar chart.
#include "bench_chart.hpp"

#include <algorithm>
#include <cstdio>
#include <sstream>

namespace forklab::load {

namespace {

constexpr int width = 720;
constexpr int label_w = 160;  // the rows' names, left of the bars
constexpr int value_w = 120;  // the figures, right of the longest bar
constexpr int bar_h = 14;
constexpr int row_h = 20;
constexpr int title_h = 26;

std::string num(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f", v);
    return buf;
}

/// Text made safe for XML, without Markdown's backticks.
std::string escaped(const std::string& text) {
    std::string out;
    for (char ch : text) {
        switch (ch) {
            case '`':
                break;
            case '&':
                out += "&amp;";
                break;
            case '<':
                out += "&lt;";
                break;
            case '>':
                out += "&gt;";
                break;
            case '"':
                out += "&quot;";
                break;
            default:
                out += ch;
        }
    }
    return out;
}

const char* colour_of(const std::string& name) {
    if (name == "ceiling" || name == "fork_floor") {
        return "#9e9e9e";
    }
    bool chapter = name.size() > 4 && name[0] == 'c' && name[1] == 'h' && name[4] == '_';
    return chapter ? "#3b6fb6" : "#e08a2c";
}

}  // namespace

std::string render_chart_svg(const std::vector<Workload>& workloads, const std::vector<Row>& rows,
                             const std::string& caption) {
    std::ostringstream body;
    int y = 44;  // below the title and the caption
    const int bars_w = width - label_w - value_w;
    for (std::size_t w = 0; w < workloads.size(); ++w) {
        double top = 0;
        double ceiling = 0;
        for (const Row& r : rows) {
            const Cell& c = r.cells.at(w);
            if (c.status == Cell::Status::measured) {
                top = std::max({top, c.rps, c.rps_max});
                if (r.name == "ceiling" && ceiling == 0) {
                    ceiling = c.rps;
                }
            }
        }
        if (top <= 0) {
            continue;  // nothing measured under this load
        }
        body << "<text x=\"0\" y=\"" << y + 16 << "\" font-weight=\"bold\">"
             << escaped(workloads[w].title) << "</text>\n";
        y += title_h;
        for (const Row& r : rows) {
            const Cell& c = r.cells.at(w);
            if (c.status != Cell::Status::measured) {
                continue;
            }
            double len = bars_w * c.rps / top;
            int mid = y + bar_h / 2;
            body << "<text x=\"" << label_w - 6 << "\" y=\"" << mid + 4 << "\" text-anchor=\"end\">"
                 << escaped(r.name) << "</text>\n"
                 << "<rect x=\"" << label_w << "\" y=\"" << y << "\" width=\"" << num(len)
                 << "\" height=\"" << bar_h << "\" fill=\"" << colour_of(r.name) << "\"/>\n";
            if (c.rounds > 1) {
                double lo = label_w + bars_w * c.rps_min / top;
                double hi = label_w + bars_w * c.rps_max / top;
                body << "<line x1=\"" << num(lo) << "\" y1=\"" << mid << "\" x2=\"" << num(hi)
                     << "\" y2=\"" << mid << "\" stroke=\"#222\" stroke-width=\"1.5\"/>\n";
            }
            std::string value = with_thousands(c.rps);
            if (ceiling > 0) {
                char share[16];
                std::snprintf(share, sizeof share, " (%.0f%%)", 100.0 * c.rps / ceiling);
                value += share;
            }
            double after = label_w + bars_w * std::max(c.rps, c.rps_max) / top + 6;
            body << "<text x=\"" << num(after) << "\" y=\"" << mid + 4 << "\">" << value
                 << "</text>\n";
            y += row_h;
        }
        y += 10;
    }
    std::ostringstream svg;
    svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << width << "\" height=\"" << y
        << "\" viewBox=\"0 0 " << width << " " << y
        << "\" font-family=\"sans-serif\" font-size=\"12\">\n"
        << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        << "<text x=\"0\" y=\"16\" font-size=\"14\" font-weight=\"bold\">Requests per second "
           "(median of the rounds; the line spans the lowest to the highest round)</text>\n"
        << "<text x=\"0\" y=\"34\" fill=\"#555\">" << escaped(caption) << "</text>\n"
        << body.str() << "</svg>\n";
    return svg.str();
}

}  // namespace forklab::load
