// page_prep: the copy of a book page that Doxygen reads (docs/CMakeLists.txt runs it per page).
//
//   page_prep IN OUT [--pitfalls PITFALLS.md] [--prev LABEL TITLE] [--up LABEL TITLE]
//             [--next LABEL TITLE] [--terms TERMS.dox]
//
// What a reader gets that the page's author does not have to write:
// - previous / up / next links under the title and at the end (the reading path);
// - a table of contents under the title of a page with four sections or more (unless the page
//   asks for one itself with [TOC] or \tableofcontents);
// - `\snippet FILE NAME` becomes `\snippetfile{FILE,NAME}`, which names the file above the code;
// - a pitfall's number becomes a link to its section of the pitfalls page: "pitfall 5" in prose,
//   and the "(5)" that ends the first cell of a row of a chapter's pitfalls table
//   (a section whose label ends in `_pitfalls`).
// - every \dot and \msc diagram fits the content column (see fit_diagram).
// - with --terms (the glossary): one small page per `\section glossary_NAME Term`, titled by the
//   term, holding its text: Doxygen's search finds page titles, not sections, so this is how
//   "zombie" in the search box lands on the zombie.
// Doxygen's messages point at the copy, in the build tree: its line numbers are the page's plus
// two (the links and the table of contents go in under the title).
#include <algorithm>
#include <fstream>
#include <iostream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace {

struct Link {
    std::string label;
    std::string title;
};

std::vector<std::string> read_lines(const std::string& path) {
    std::ifstream in(path);
    if (!in) {
        throw std::runtime_error("page_prep: cannot read " + path);
    }
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) {
        lines.push_back(line);
    }
    return lines;
}

std::string quoted(const std::string& text) {
    std::string out;
    for (char c : text) {
        out += c == '"' ? '\'' : c;
    }
    return out;
}

// The reading path as one line of HTML that Doxygen fills in (\ref resolves the labels).
std::string nav_line(const Link& prev, const Link& up, const Link& next, const char* where) {
    std::string line = std::string("<div class=\"pagenav pagenav-") + where + "\">";
    if (!prev.label.empty()) {
        line += "<span class=\"pagenav-prev\">\\ref " + prev.label + " \"&larr; " +
                quoted(prev.title) + "\"</span>";
    }
    if (!up.label.empty()) {
        line +=
            "<span class=\"pagenav-up\">\\ref " + up.label + " \"" + quoted(up.title) + "\"</span>";
    }
    if (!next.label.empty()) {
        line += "<span class=\"pagenav-next\">\\ref " + next.label + " \"" + quoted(next.title) +
                " &rarr;\"</span>";
    }
    return line + "</div>";
}

std::set<int> pitfall_numbers(const std::string& path) {
    std::set<int> numbers;
    if (path.empty()) {
        return numbers;
    }
    const std::regex section(R"(^\\section pitfall_([0-9]+) )");
    for (const std::string& line : read_lines(path)) {
        std::smatch m;
        if (std::regex_search(line, m, section)) {
            numbers.insert(std::stoi(m[1]));
        }
    }
    return numbers;
}

std::string pitfall_label(int n) {
    return (n < 10 ? "pitfall_0" : "pitfall_") + std::to_string(n);
}

// "pitfall 5" -> a link, unless it is a link's text already ("\ref pitfall_05 "pitfall 5"").
std::string link_prose(const std::string& line, const std::set<int>& known) {
    static const std::regex mention(R"((^|[^"\w])pitfall ([0-9]+)\b)");
    std::string out;
    auto begin = line.cbegin();
    for (std::sregex_iterator it(line.begin(), line.end(), mention), end; it != end; ++it) {
        const std::smatch& m = *it;
        const int n = std::stoi(m[2]);
        out.append(begin, m[0].first);
        if (known.count(n) != 0) {
            out += m[1].str() + "\\ref " + pitfall_label(n) + " \"pitfall " + m[2].str() + "\"";
        } else {
            out += m[0].str();
        }
        begin = m[0].second;
    }
    out.append(begin, line.cend());
    return out;
}

// "| work in a signal handler (1) | ..." -> the (1) links to pitfall 1.
std::string link_table_row(const std::string& line, const std::set<int>& known) {
    static const std::regex first_cell(R"(^(\|[^|]*)\(([0-9]+)\)(\s*\|))");
    std::smatch m;
    if (!std::regex_search(line, m, first_cell) || known.count(std::stoi(m[2])) == 0) {
        return line;
    }
    return m[1].str() + "(\\ref " + pitfall_label(std::stoi(m[2])) + " \"" + m[2].str() + "\")" +
           m[3].str() + m.suffix().str();
}

// Fits the \dot or \msc diagram whose first line is lines[at] to the book's content column
// (docs/forklab.css: --forklab-content-width, 860 px), unless the diagram sets its own size:
// - a dot graph gets size="8.9,40" (inches; dot scales a larger graph down, never up), on the
//   line that opens the graph;
// - a sequence chart gets a width that gives each of its entities about 290 px (at most 860 px)
//   and labels wrapped to their arcs, in front of its list of entities; its self-arcs
//   ("a => a") become action boxes ("a rbox a").
void fit_diagram(std::vector<std::string>& lines, std::size_t at) {
    const bool dot = lines[at].find("\\dot") != std::string::npos;
    const bool msc = lines[at].find("\\msc") != std::string::npos;
    if (!dot && !msc) {
        return;
    }
    static const std::regex dot_size(R"((^|[^a-z])size\s*=)");
    static const std::regex msc_size(R"((^|[^a-z])(width|hscale)\s*=)");
    std::size_t end = at + 1;
    bool sized = false;
    for (; end < lines.size(); ++end) {
        const std::string& line = lines[end];
        if (line.find(dot ? "\\enddot" : "\\endmsc") != std::string::npos) {
            break;
        }
        sized = sized || std::regex_search(line, dot ? dot_size : msc_size);
    }
    if (sized) {
        return;
    }
    if (msc) {
        // mscgen draws a process's message to itself as a loop that can leave the picture (the
        // leftmost entity's loops go off its left edge): an action box says the same thing.
        static const std::regex self_arc(R"(^(\s*)([A-Za-z0-9_]+)\s*(=>>|=>|->|>>|:>)\s*\2\s*\[)");
        for (std::size_t i = at + 1; i < end; ++i) {
            lines[i] = std::regex_replace(lines[i], self_arc, "$1$2 rbox $2 [");
        }
    }
    for (std::size_t i = at + 1; i < end; ++i) {
        std::string& line = lines[i];
        if (line.find_first_not_of(" \t") == std::string::npos) {
            continue;
        }
        if (dot) {
            const std::size_t brace = line.find('{');
            if (brace != std::string::npos) {
                line.insert(brace + 1, " size=\"8.9,40\";");
            }
        } else {
            const std::size_t entities =
                1 + static_cast<std::size_t>(std::count(line.begin(), line.end(), ','));
            const std::size_t width =
                std::min<std::size_t>(860, std::max<std::size_t>(430, 290 * entities));
            const std::size_t indent = line.find_first_not_of(" \t");
            line.insert(indent, "width=\"" + std::to_string(width) + "\", wordwraparcs=\"true\"; ");
        }
        return;
    }
}

// The glossary's terms as pages of their own (see --terms).
bool write_terms(const std::vector<std::string>& lines, const std::string& path) {
    static const std::regex term(R"(^\\section glossary_([A-Za-z0-9_]+) (.+)$)");
    std::ostringstream out;
    out << "// Generated by docs/tools/page_prep from the glossary: one page per term.\n";
    bool open = false;
    std::string label;
    for (const std::string& line : lines) {
        std::smatch m;
        if (std::regex_search(line, m, term)) {
            if (open) {
                out << "\nIn the \\ref glossary_" << label << " \"glossary\".\n*/\n";
            }
            label = m[1];
            out << "/** \\page term_" << label << " " << m[2].str() << "\n";
            open = true;
        } else if (open) {
            out << line << "\n";
        }
    }
    if (open) {
        out << "\nIn the \\ref glossary_" << label << " \"glossary\".\n*/\n";
    }
    std::ofstream file(path);
    file << out.str();
    return static_cast<bool>(file);
}

}  // namespace

int main(int argc, char** argv) {
    try {
        if (argc < 3) {
            std::cerr << "usage: page_prep IN OUT [--pitfalls FILE] [--prev|--up|--next LABEL "
                         "TITLE]...\n";
            return 2;
        }
        const std::string in_path = argv[1];
        const std::string out_path = argv[2];
        std::string pitfalls_path;
        std::string terms_path;
        Link prev, up, next;
        for (int i = 3; i < argc; ++i) {
            const std::string flag = argv[i];
            if (flag == "--pitfalls" && i + 1 < argc) {
                pitfalls_path = argv[++i];
            } else if (flag == "--terms" && i + 1 < argc) {
                terms_path = argv[++i];
            } else if ((flag == "--prev" || flag == "--up" || flag == "--next") && i + 2 < argc) {
                Link& link = flag == "--prev" ? prev : flag == "--up" ? up : next;
                link.label = argv[++i];
                link.title = argv[++i];
            } else {
                std::cerr << "page_prep: bad argument " << flag << "\n";
                return 2;
            }
        }
        std::vector<std::string> lines = read_lines(in_path);
        if (!terms_path.empty() && !write_terms(lines, terms_path)) {
            std::cerr << "page_prep: cannot write " << terms_path << "\n";
            return 1;
        }
        const std::set<int> known = pitfall_numbers(pitfalls_path);

        int sections = 0;
        bool own_toc = false;
        for (const std::string& line : lines) {
            sections += line.rfind("\\section ", 0) == 0 ? 1 : 0;
            own_toc = own_toc || line.find("[TOC]") != std::string::npos ||
                      line.find("\\tableofcontents") != std::string::npos;
        }
        const bool has_nav = !prev.label.empty() || !up.label.empty() || !next.label.empty();

        static const std::regex snippet(R"(^\\snippet ([^ {]+) ([A-Za-z0-9_]+)\s*$)");
        static const std::regex section(R"(^\\(sub)*section ([A-Za-z0-9_]+))");
        static const std::regex block_start(
            R"(^\s*(\\dot|\\msc|\\code(\{[^}]*\})?|\\verbatim|```.*)\s*$)");
        static const std::regex block_end(R"(^\s*(\\enddot|\\endmsc|\\endcode|\\endverbatim|```))");
        bool in_block = false;
        bool in_pitfall_table = false;
        for (std::size_t i = 1; i < lines.size(); ++i) {
            std::string& line = lines[i];
            std::smatch m;
            if (in_block) {
                in_block = !std::regex_search(line, block_end);
                continue;
            }
            if (std::regex_search(line, block_start)) {
                in_block = true;
                fit_diagram(lines, i);
                continue;
            }
            if (line.rfind("    ", 0) == 0) {
                continue;  // an indented code block
            }
            if (std::regex_search(line, m, section)) {
                const std::string label = m[2];
                in_pitfall_table = label.size() > 9 && label.ends_with("_pitfalls");
                continue;
            }
            if (std::regex_search(line, m, snippet)) {
                line = "\\snippetfile{" + m[1].str() + "," + m[2].str() + "}";
                continue;
            }
            if (known.empty()) {
                continue;
            }
            if (in_pitfall_table && line.rfind("|", 0) == 0) {
                line = link_table_row(line, known);
            }
            line = link_prose(line, known);
        }

        std::string head;
        if (has_nav) {
            head = nav_line(prev, up, next, "top");
        }
        if (!own_toc && (has_nav || sections >= 4)) {
            head += head.empty() ? "\\tableofcontents" : " \\tableofcontents";
        }
        if (!head.empty() && !lines.empty()) {
            lines.insert(lines.begin() + 1, std::string());
            lines.insert(lines.begin() + 2, head);
        }
        if (has_nav) {
            lines.emplace_back();
            lines.push_back(nav_line(prev, up, next, "bottom"));
        }

        std::ostringstream text;
        for (const std::string& line : lines) {
            text << line << '\n';
        }
        std::ofstream out(out_path);
        out << text.str();
        if (!out) {
            std::cerr << "page_prep: cannot write " << out_path << "\n";
            return 1;
        }
        return 0;
    } catch (const std::exception& e) {
        std::cerr << e.what() << "\n";
        return 1;
    }
}
