/// \file
/// \brief ramp: chapter 04 under a rising then falling load, its pool size sampled over time.
///
///     ramp --output-svg docs/images/ch04_ramp.svg [--output-csv ramp.csv]
///
/// Starts ch04_adaptive_pool (found next to this program) on a free port, steps the number of
/// concurrent clients of `GET /sleep/100` up and down (1, 4, 8, 16, 24, 16, 8, 4, 1, then none;
/// 2 s each; the pool runs its policy every 0.25 s),
/// samples the workers (children of the master) and the idle ones (waiting for a connection) every
/// 100 ms, and writes the samples as CSV and as an SVG chart for chapter 04's page.
#include <dirent.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <csignal>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <regex>
#include <sstream>
#include <thread>
#include <vector>

#include "forklab/cli.hpp"
#include "forklab/fd.hpp"
#include "load_engine.hpp"
#include "proc_stats.hpp"

namespace {

struct Sample {
    double t;
    int clients;
    std::size_t workers;
    std::size_t idle;
};

std::size_t idle_of(const std::vector<pid_t>& workers) {
    std::size_t n = 0;
    for (pid_t w : workers) {
        std::ifstream in("/proc/" + std::to_string(w) + "/wchan");
        std::string wchan;
        in >> wchan;
        // Waiting for chapter 03's accept lock (flock) or, holding it, in poll on the listener.
        n += wchan.find("lock") != std::string::npos || wchan.find("poll") != std::string::npos;
    }
    return n;
}

// The chart: 860 px wide (the book's content column), axis titles, and a legend that shows each
// line's own stroke beside its name.
std::string svg(const std::vector<Sample>& samples, double seconds, std::size_t top) {
    const double w = 860, h = 360, left = 64, bottom = 56, right = 24, topm = 48;
    auto x = [&](double t) { return left + (w - left - right) * t / seconds; };
    auto y = [&](double v) {
        return h - bottom - (h - bottom - topm) * v / static_cast<double>(top);
    };
    std::ostringstream s;
    s << "<svg xmlns='http://www.w3.org/2000/svg' width='" << w << "' height='" << h
      << "' viewBox='0 0 " << w << " " << h
      << "' font-family='Helvetica, Arial, sans-serif' font-size='13'>\n"
         "<rect width='100%' height='100%' fill='white'/>\n";
    for (std::size_t v = 0; v <= top; v += top / 5 > 0 ? top / 5 : 1) {
        s << "<line x1='" << left << "' x2='" << w - right << "' y1='" << y(double(v)) << "' y2='"
          << y(double(v)) << "' stroke='#ddd'/><text x='" << left - 8 << "' y='" << y(double(v)) + 4
          << "' text-anchor='end'>" << v << "</text>\n";
    }
    for (int t = 0; t <= static_cast<int>(seconds); t += 2) {
        s << "<text x='" << x(t) << "' y='" << h - bottom + 18 << "' text-anchor='middle'>" << t
          << "</text>\n";
    }
    s << "<line x1='" << left << "' x2='" << w - right << "' y1='" << h - bottom << "' y2='"
      << h - bottom << "' stroke='#333'/>\n"
      << "<text x='" << (left + w - right) / 2 << "' y='" << h - 14
      << "' text-anchor='middle'>time since the ramp began (s)</text>\n"
      << "<text transform='translate(18," << (topm + h - bottom) / 2
      << ") rotate(-90)' text-anchor='middle'>processes (workers) or concurrent clients</text>\n";
    auto line = [&](const char* color, auto value, const char* dash) {
        s << "<polyline fill='none' stroke='" << color << "' stroke-width='2.5' stroke-dasharray='"
          << dash << "' points='";
        for (const Sample& p : samples) {
            s << x(p.t) << "," << y(value(p)) << " ";
        }
        s << "'/>\n";
    };
    line(
        "#666", [](const Sample& p) { return double(p.clients); }, "6,4");
    line(
        "#1f77b4", [](const Sample& p) { return double(p.workers); }, "none");
    line(
        "#2ca02c", [](const Sample& p) { return double(p.idle); }, "none");
    // The legend, above the plot: a stroke sample, then its name.
    struct Key {
        const char* color;
        const char* dash;
        const char* name;
    };
    const Key keys[] = {{"#666", "6,4", "clients (the load)"},
                        {"#1f77b4", "none", "workers (the pool)"},
                        {"#2ca02c", "none", "idle workers (blocked in accept)"}};
    double kx = left;
    for (const Key& k : keys) {
        s << "<line x1='" << kx << "' x2='" << kx + 28 << "' y1='22' y2='22' stroke='" << k.color
          << "' stroke-width='2.5' stroke-dasharray='" << k.dash << "'/><text x='" << kx + 34
          << "' y='26'>" << k.name << "</text>\n";
        kx += 34 + 8.0 * static_cast<double>(std::string(k.name).size()) + 24;
    }
    s << "</svg>\n";
    return s.str();
}

}  // namespace

int main(int argc, char** argv) {
    std::string svg_path;
    std::string csv_path;
    forklab::Cli cli("ramp", "Chapter 04's pool size under a load ramp, as CSV and SVG.");
    cli.option("output-svg", "PATH", "write the chart here", svg_path);
    cli.option("output-csv", "PATH", "write the samples here", csv_path);
    if (auto code = cli.parse(argc, argv)) {
        return *code;
    }
    std::signal(SIGPIPE, SIG_IGN);
    char self[4096] = {};
    ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
    std::string bin = std::string(self, n > 0 ? static_cast<std::size_t>(n) : 0);
    bin = bin.substr(0, bin.rfind('/')) + "/ch04_adaptive_pool";

    forklab::Pipe out = forklab::make_pipe();
    pid_t pid = ::fork();
    if (pid == 0) {
        ::prctl(PR_SET_PDEATHSIG, SIGTERM);
        ::dup2(out.write_end.get(), STDOUT_FILENO);
        ::execl(bin.c_str(), bin.c_str(), "--listen", "127.0.0.1:0", "--start-workers", "2",
                "--min-idle", "2", "--max-idle", "4", "--max-workers", "32", "--min-age", "1",
                "--maintenance-interval", "0.25", "--log-file", "/dev/null",
                static_cast<char*>(nullptr));
        ::_exit(127);
    }
    out.write_end.reset();
    std::string line;
    char buf[256];
    pollfd p{out.read_end.get(), POLLIN, 0};
    while (line.find('\n') == std::string::npos && ::poll(&p, 1, 10000) > 0) {
        ssize_t got = ::read(out.read_end.get(), buf, sizeof buf);
        if (got <= 0) {
            break;
        }
        line.append(buf, static_cast<std::size_t>(got));
    }
    std::smatch m;
    if (!std::regex_search(line, m, std::regex(R"(listening on (\S+):(\d+) pid (\d+))"))) {
        std::cerr << "ramp: " << bin << " did not start\n";
        ::kill(pid, SIGKILL);
        ::waitpid(pid, nullptr, 0);
        return 1;
    }
    forklab::Endpoint at{m[1].str(), static_cast<std::uint16_t>(std::stoi(m[2]))};

    const std::vector<int> steps = {1, 4, 8, 16, 24, 16, 8, 4, 1, 0, 0, 0};
    const double step_s = 2.0;
    std::vector<Sample> samples;
    std::atomic<int> clients{0};
    std::atomic<bool> done{false};
    auto start = std::chrono::steady_clock::now();
    std::thread sampler([&] {
        while (!done) {
            auto workers = forklab::load::live_children(pid);
            double t =
                std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
            samples.push_back({t, clients.load(), workers.size(), idle_of(workers)});
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
    });
    long ok = 0;
    long errors = 0;
    for (int c : steps) {
        clients = c;
        if (c == 0) {
            std::this_thread::sleep_for(
                std::chrono::milliseconds(static_cast<long>(step_s * 1000)));
            continue;
        }
        forklab::load::LoadConfig config;
        config.target = at;
        config.concurrency = c;
        config.duration_ms = static_cast<long>(step_s * 1000);
        config.path = "/sleep/100";
        forklab::load::LoadResult r = forklab::load::run_load(config);
        ok += r.ok;
        errors += r.error_count();
    }
    done = true;
    sampler.join();
    ::kill(pid, SIGTERM);
    ::waitpid(pid, nullptr, 0);

    std::size_t top = 5;
    for (const Sample& s : samples) {
        top = std::max({top, s.workers, static_cast<std::size_t>(s.clients)});
    }
    top = (top + 4) / 5 * 5;
    double seconds = samples.empty() ? 1 : samples.back().t;
    if (!csv_path.empty()) {
        std::ofstream csv(csv_path);
        csv << "seconds,clients,workers,idle\n";
        for (const Sample& s : samples) {
            csv << s.t << "," << s.clients << "," << s.workers << "," << s.idle << "\n";
        }
    }
    if (!svg_path.empty()) {
        std::ofstream(svg_path) << svg(samples, seconds, top);
    }
    std::size_t most = 0;
    for (const Sample& s : samples) {
        most = std::max(most, s.workers);
    }
    std::printf("ramp: %ld requests served, %ld errors, at most %zu workers, %zu at the end\n", ok,
                errors, most, samples.empty() ? 0 : samples.back().workers);
    return errors == 0 ? 0 : 1;
}
