/// \file
/// \brief forklab_grade: grades exercises from test results, never from text the tested code
/// writes.
///
///     forklab_grade --out DIR [--test-timeout S] [--budget S] [--jobs N] [--strict]
///                   [--not-built exNN]... MANIFEST...
///
/// A MANIFEST (written by CMake at configure time, cmake/ForkLab.cmake) names one exercise, the
/// student's server binary and every graded test: its binary, its GoogleTest name and its points,
/// taken from the exercise's points table in the repository. The grader runs each test in a
/// process of its own, below a keeper (harness/kept.hpp) so that nothing the test starts outlives
/// it, with its own time limit and within the exercise's time budget; it writes the results as
/// DIR/results.json (Gradescope's format), DIR/junit.xml and DIR/scores.tsv, prints one line per
/// test, a score per exercise and `Total: X/Y` last. Exit code 0 once every test was judged (1
/// with --strict below full marks, 2 for a bad command line or manifest).
///
/// Threat model. The code under test is the student's seam. In behaviour tests it runs only in
/// the server, a process the test starts; in a seam's unit tests it is linked into the test
/// process itself, so it can run before main (a static initializer), print anything anywhere
/// (the test's stdout, its parent's through /proc/PPID/fd/1), exit the process at any moment with
/// any code, or kill its parent. What decides a test's points:
///   - the table's points, from the repository, never from the test binary;
///   - the test passed only if both hold: the process exited with code 0 (as the keeper, a
///     process the test cannot write to, reports it: the keeper is not dumpable, so its
///     descriptors cannot be opened through /proc by another process of the user), and
///     GoogleTest's JSON result, written to a file whose path only the test's command line
///     names, shows exactly that one test run to completion without a failure.
/// So printed text (a fake `Score:` line from any process) changes nothing, an early exit(0)
/// before or during the test leaves no result and scores 0, a crash, a hang (cut at the time
/// limit) or a killed keeper score 0 and the other tests still run. Not covered: seam code
/// written to forge GoogleTest's result file for the test it is linked into and then exit 0;
/// that takes deliberate code in a file of a few dozen lines, which reading the submission
/// shows (and root, which can write anywhere, is beyond any of this).
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "forklab/fd.hpp"
#include "harness/kept.hpp"
#include "harness/procfs.hpp"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

/// One graded test, from a manifest.
struct Test {
    std::string binary;  // the GoogleTest binary that holds it
    std::string name;    // Suite.Name
    int points = 0;
    bool may_skip = false;  // may be skipped here (needs root): then it counts neither way
};

/// One exercise, from a manifest.
struct Exercise {
    std::string id;     // ex01
    std::string title;  // 01_fork_server
    std::string server;
    std::vector<Test> tests;
    bool built = true;
};

/// What became of one test.
struct Result {
    const Exercise* exercise = nullptr;
    const Test* test = nullptr;
    std::string verdict;  // passed, failed, timeout, skipped, not run, not built
    int score = 0;
    int max = 0;
    double seconds = 0;
    std::string message;  // plain words for the student
};

struct Options {
    std::string out;
    int test_timeout = 60;
    int budget = 180;
    int jobs = 1;
    bool strict = false;
    std::set<std::string> not_built;
    std::vector<std::string> manifests;
};

[[noreturn]] void usage(const std::string& why) {
    std::cerr << "forklab_grade: " << why
              << "\nusage: forklab_grade --out DIR [--test-timeout S] [--budget S] [--jobs N] "
                 "[--strict] [--not-built exNN]... MANIFEST...\n";
    std::exit(2);
}

int number(const std::string& flag, const char* text) {
    char* end = nullptr;
    long v = std::strtol(text, &end, 10);
    if (*text == '\0' || *end != '\0' || v < 1 || v > 100000) {
        usage(flag + ": not a positive number: '" + text + "'");
    }
    return static_cast<int>(v);
}

Options parse(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto value = [&]() -> const char* {
            if (i + 1 >= argc) {
                usage(a + " needs a value");
            }
            return argv[++i];
        };
        if (a == "--out") {
            o.out = value();
        } else if (a == "--test-timeout") {
            o.test_timeout = number(a, value());
        } else if (a == "--budget") {
            o.budget = number(a, value());
        } else if (a == "--jobs") {
            o.jobs = number(a, value());
        } else if (a == "--strict") {
            o.strict = true;
        } else if (a == "--not-built") {
            o.not_built.insert(value());
        } else if (a.rfind("--", 0) == 0) {
            usage("unknown flag " + a);
        } else {
            o.manifests.push_back(a);
        }
    }
    if (o.out.empty()) {
        usage("--out is required");
    }
    // Absolute: the tests get TMPDIR below it, and a daemon changes its directory to /.
    o.out = std::filesystem::absolute(o.out).lexically_normal().string();
    if (o.manifests.empty()) {
        usage("no manifest given");
    }
    return o;
}

/// Manifest lines: `exercise ID TITLE`, `server PATH`, `test BINARY NAME POINTS [may-skip]`.
Exercise read_manifest(const std::string& path) {
    std::ifstream in(path);
    if (!in) {
        usage("cannot read manifest " + path);
    }
    Exercise e;
    std::string line;
    for (int n = 1; std::getline(in, line); ++n) {
        std::istringstream f(line);
        std::string kind;
        if (!(f >> kind) || kind[0] == '#') {
            continue;
        }
        if (kind == "exercise") {
            f >> e.id >> e.title;
        } else if (kind == "server") {
            f >> e.server;
        } else if (kind == "test") {
            Test t;
            std::string flag;
            f >> t.binary >> t.name >> t.points >> flag;
            t.may_skip = flag == "may-skip";
            if (t.name.empty() || t.points < 0) {
                usage(path + ":" + std::to_string(n) + ": bad test line");
            }
            e.tests.push_back(t);
        } else {
            usage(path + ":" + std::to_string(n) + ": unknown line '" + kind + "'");
        }
    }
    if (e.id.empty() || e.tests.empty()) {
        usage(path + ": no exercise or no test");
    }
    return e;
}

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

/// The failure lines of GoogleTest's console output, without its [ RUN ] chrome.
std::string failure_text(const std::string& output) {
    std::istringstream in(output);
    std::string out;
    bool inside = false;
    int lines = 0;
    for (std::string l; std::getline(in, l);) {
        if (l.rfind("[ RUN      ]", 0) == 0) {
            inside = true;
            continue;
        }
        if (l.rfind("[  FAILED  ]", 0) == 0 || l.rfind("[       OK ]", 0) == 0 ||
            l.rfind("[  SKIPPED ]", 0) == 0) {
            inside = false;
            continue;
        }
        if (inside && !l.empty() && lines < 24) {
            // "/long/path/tests/01_x/file.cpp:12: Failure" reads better as "file.cpp:12".
            std::size_t slash = l.rfind('/', l.find(": "));
            out += (slash != std::string::npos && l[0] == '/' ? l.substr(slash + 1) : l) + "\n";
            ++lines;
        }
    }
    return out;
}

/// GoogleTest's JSON result for a run of exactly \p name, or why it is not a pass.
std::string judge_json(const std::string& json, const std::string& name, bool& skipped) {
    std::size_t dot = name.find('.');
    std::string suite = name.substr(0, dot);
    std::string test = name.substr(dot + 1);
    skipped = false;
    if (json.empty()) {
        return "no result: the test process ended before GoogleTest wrote one (did the code "
               "under test exit the process?)";
    }
    if (!contains(json, "\"tests\": 1,") || !contains(json, "\"name\": \"" + test + "\"") ||
        !contains(json, "\"classname\": \"" + suite + "\"")) {
        return "the result does not name this one test";
    }
    if (contains(json, "\"result\": \"SKIPPED\"")) {
        skipped = true;
        return "skipped";
    }
    if (!contains(json, "\"failures\": 0,") || !contains(json, "\"errors\": 0,") ||
        contains(json, "\"failures\": [") || !contains(json, "\"result\": \"COMPLETED\"")) {
        return "failed";
    }
    return "";
}

/// A test running below its keeper.
struct Running {
    Result* result;
    std::unique_ptr<forklab::test::Kept> kept;
    forklab::Fd output;  // read end of its stdout and stderr
    std::string text;
    std::string dir;
    Clock::time_point started;
    Clock::time_point deadline;
};

std::string slurp(const std::string& path) {
    return forklab::procfs::slurp(path);
}

class Grader {
  public:
    explicit Grader(Options o) : opt_(std::move(o)) {}

    int run() {
        fs::create_directories(opt_.out);
        for (const std::string& m : opt_.manifests) {
            exercises_.push_back(read_manifest(m));
        }
        for (Exercise& e : exercises_) {
            e.built = opt_.not_built.count(e.id) == 0;
        }
        std::size_t count = 0;
        for (const Exercise& e : exercises_) {
            count += e.tests.size();
        }
        results_.reserve(count);
        auto start = Clock::now();
        for (const Exercise& e : exercises_) {
            grade(e);
        }
        double seconds = std::chrono::duration<double>(Clock::now() - start).count();
        int score = 0;
        int max = 0;
        for (const Result& r : results_) {
            score += r.score;
            max += r.max;
        }
        write_reports(score, max, seconds);
        std::cout << "Total: " << score << "/" << max << std::endl;
        return opt_.strict && score < max ? 1 : 0;
    }

  private:
    void grade(const Exercise& e) {
        std::cout << "\n== " << e.id << " " << e.title << ": " << e.tests.size() << " tests"
                  << std::endl;
        std::size_t first = results_.size();
        for (const Test& t : e.tests) {
            Result r;
            r.exercise = &e;
            r.test = &t;
            r.max = t.points;
            results_.push_back(r);
        }
        if (!e.built) {
            for (std::size_t i = first; i < results_.size(); ++i) {
                results_[i].verdict = "not built";
                results_[i].message = "the submission did not compile (see the build output)";
                print(results_[i]);
            }
            summary(e, first);
            return;
        }
        auto budget_end = Clock::now() + std::chrono::seconds(opt_.budget);
        std::vector<Running> running;
        std::size_t next = first;
        while (next < results_.size() || !running.empty()) {
            while (next < results_.size() && running.size() < static_cast<std::size_t>(opt_.jobs)) {
                if (Clock::now() >= budget_end) {
                    results_[next].verdict = "not run";
                    results_[next].message = "not run: the exercise's time budget (" +
                                             std::to_string(opt_.budget) + " s) was used up";
                    print(results_[next++]);
                    continue;
                }
                running.push_back(start(e, results_[next++], budget_end));
            }
            for (std::size_t i = 0; i < running.size();) {
                if (poll(running[i])) {
                    print(*running[i].result);
                    running.erase(running.begin() + static_cast<long>(i));
                } else {
                    ++i;
                }
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
        // Orphans of a test whose keeper was killed came back to this process (a subreaper).
        forklab::procfs::kill_descendants(::getpid());
        summary(e, first);
    }

    Running start(const Exercise& e, Result& r, Clock::time_point budget_end) {
        Running run;
        run.result = &r;
        run.dir = opt_.out + "/runs/" + e.id + "/" + std::to_string(&r - results_.data());
        fs::remove_all(run.dir);
        fs::create_directories(run.dir + "/tmp");
        ::chmod(run.dir.c_str(), 0700);
        forklab::Pipe out = forklab::make_pipe(O_NONBLOCK);
        forklab::Fd devnull(::open("/dev/null", O_RDONLY | O_CLOEXEC));
        // The environment is the test's: the server under test and a private TMPDIR.
        ::setenv("FORKLAB_SERVER", e.server.c_str(), 1);
        ::setenv("TMPDIR", (run.dir + "/tmp").c_str(), 1);
        std::vector<std::string> args = {"--gtest_filter=" + r.test->name,
                                         "--gtest_output=json:" + run.dir + "/result.json",
                                         "--gtest_color=no"};
        run.started = Clock::now();
        run.deadline = std::min(run.started + std::chrono::seconds(opt_.test_timeout), budget_end);
        run.kept = std::make_unique<forklab::test::Kept>(r.test->binary, args, devnull.get(),
                                                         out.write_end.get(), out.write_end.get());
        run.output = std::move(out.read_end);
        return run;
    }

    /// Reads what the test wrote; true once it is judged.
    bool poll(Running& run) {
        char buf[4096];
        ssize_t n;
        while ((n = ::read(run.output.get(), buf, sizeof buf)) > 0) {
            if (run.text.size() < 256 * 1024) {  // a test that floods its output is cut
                run.text.append(buf, static_cast<std::size_t>(n));
            }
        }
        Result& r = *run.result;
        std::optional<int> status = run.kept->status_of(run.kept->launched());
        auto keeper = forklab::procfs::proc_stat(run.kept->keeper());
        bool keeper_gone = run.kept->launched() <= 0 || !keeper || keeper->state == 'Z';
        if (!status && !keeper_gone && Clock::now() < run.deadline) {
            return false;
        }
        r.seconds = std::chrono::duration<double>(Clock::now() - run.started).count();
        if (!status && !keeper_gone) {
            ::kill(run.kept->launched(), SIGKILL);
            r.verdict = "timeout";
            long limit =
                std::chrono::duration_cast<std::chrono::seconds>(run.deadline - run.started)
                    .count();
            r.message = "stopped after " + std::to_string(limit) +
                        " s: the time limit of a test (it hangs, or waits for something that "
                        "never comes)\n" +
                        failure_text(run.text);
        }
        run.kept->end();  // kills everything the test left
        while ((n = ::read(run.output.get(), buf, sizeof buf)) > 0 &&
               run.text.size() < 256 * 1024) {
            run.text.append(buf, static_cast<std::size_t>(n));
        }
        if (r.verdict == "timeout") {
            return true;
        }
        if (!status) {
            r.verdict = "failed";
            r.message = "the test's keeper was killed: no result\n" + failure_text(run.text);
            return true;
        }
        bool skipped = false;
        std::string why = judge_json(slurp(run.dir + "/result.json"), r.test->name, skipped);
        int code = forklab::test::decode_status(*status);
        if (skipped && r.test->may_skip) {
            r.verdict = "skipped";
            r.max = 0;
            r.message =
                "skipped here (it needs root): counts neither way\n" + failure_text(run.text);
        } else if (code == 0 && why.empty()) {
            r.verdict = "passed";
            r.score = r.max;
        } else {
            r.verdict = "failed";
            std::string how = WIFSIGNALED(*status)
                                  ? std::string("the test process was killed by signal ") +
                                        ::sigabbrev_np(WTERMSIG(*status)) +
                                        " (a crash, or an abort after a failed check)"
                                  : "the test process exited with code " + std::to_string(code);
            std::string text = failure_text(run.text);
            if (text.empty() && code == 0 && !why.empty()) {
                text = why + "\n";
            }
            r.message = text + "(" + (skipped ? "skipped, which this test may not be" : how) + ")";
        }
        return true;
    }

    static void print(const Result& r) {
        std::string tag = r.verdict == "passed"    ? "ok"
                          : r.verdict == "failed"  ? "FAILED"
                          : r.verdict == "timeout" ? "TIMEOUT"
                          : r.verdict == "skipped" ? "skipped"
                                                   : "NOT RUN";
        std::printf("  %-8s %2d/%-2d %s (%.1f s)\n", tag.c_str(), r.score, r.test->points,
                    r.test->name.c_str(), r.seconds);
        if (r.verdict != "passed") {
            std::istringstream lines(r.message);
            int n = 0;
            for (std::string l; std::getline(lines, l) && n < 8; ++n) {
                std::printf("             %s\n", l.c_str());
            }
        }
        std::fflush(stdout);
    }

    void summary(const Exercise& e, std::size_t first) {
        int score = 0;
        int max = 0;
        std::vector<std::string> failed;
        for (std::size_t i = first; i < results_.size(); ++i) {
            score += results_[i].score;
            max += results_[i].max;
            if (results_[i].score < results_[i].max) {
                failed.push_back(results_[i].test->name + " (" + results_[i].verdict + ")");
            }
        }
        std::cout << e.id << " " << e.title << ": " << score << "/" << max;
        if (failed.empty()) {
            std::cout << ", full marks\n";
        } else {
            std::cout << ". Not full marks yet: " << failed.size() << " of " << e.tests.size()
                      << " tests did not pass (details above):\n";
            for (const std::string& f : failed) {
                std::cout << "    " << f << "\n";
            }
        }
        std::cout.flush();
    }

    static std::string json_string(const std::string& s) {
        std::string out = "\"";
        for (unsigned char c : s) {
            if (c == '"' || c == '\\') {
                out += '\\';
                out += static_cast<char>(c);
            } else if (c == '\n') {
                out += "\\n";
            } else if (c < 0x20 || c >= 0x7f) {
                char hex[8];
                std::snprintf(hex, sizeof hex, "\\u%04x", c < 0x20 ? c : '?');
                out += hex;
            } else {
                out += static_cast<char>(c);
            }
        }
        return out + "\"";
    }

    static std::string xml_text(const std::string& s) {
        std::string out;
        for (unsigned char c : s) {
            switch (c) {
                case '<':
                    out += "&lt;";
                    break;
                case '>':
                    out += "&gt;";
                    break;
                case '&':
                    out += "&amp;";
                    break;
                case '"':
                    out += "&quot;";
                    break;
                default:
                    out += (c < 0x20 && c != '\n' && c != '\t') || c >= 0x7f ? '?'
                                                                             : static_cast<char>(c);
            }
        }
        return out;
    }

    void write_reports(int score, int max, double seconds) {
        std::ofstream json(opt_.out + "/results.json");
        json << "{\n  \"score\": " << score
             << ",\n  \"execution_time\": " << static_cast<int>(seconds) << ",\n  \"output\": "
             << json_string("Total: " + std::to_string(score) + "/" + std::to_string(max))
             << ",\n  \"tests\": [";
        for (std::size_t i = 0; i < results_.size(); ++i) {
            const Result& r = results_[i];
            json << (i ? "," : "")
                 << "\n    {\"name\": " << json_string(r.exercise->id + " " + r.test->name)
                 << ", \"score\": " << r.score << ", \"max_score\": " << r.max
                 << ", \"status\": " << (r.score == r.max ? "\"passed\"" : "\"failed\"")
                 << ", \"output\": "
                 << json_string(r.verdict + (r.message.empty() ? "" : ": ") + r.message) << "}";
        }
        json << "\n  ]\n}\n";

        std::ofstream xml(opt_.out + "/junit.xml");
        xml << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n";
        std::ofstream tsv(opt_.out + "/scores.tsv");
        for (const Exercise& e : exercises_) {
            int failures = 0;
            int es = 0;
            int em = 0;
            for (const Result& r : results_) {
                if (r.exercise == &e) {
                    failures += r.score < r.max ? 1 : 0;
                    es += r.score;
                    em += r.max;
                }
            }
            tsv << e.id << "\t" << es << "\t" << em << "\n";
            xml << "  <testsuite name=\"" << e.id << "\" tests=\"" << e.tests.size()
                << "\" failures=\"" << failures << "\">\n";
            for (const Result& r : results_) {
                if (r.exercise != &e) {
                    continue;
                }
                xml << "    <testcase classname=\"" << e.id << "."
                    << xml_text(r.test->name.substr(0, r.test->name.find('.'))) << "\" name=\""
                    << xml_text(r.test->name.substr(r.test->name.find('.') + 1)) << "\" time=\""
                    << r.seconds << "\">";
                if (r.verdict == "skipped") {
                    xml << "<skipped/>";
                } else if (r.score < r.max) {
                    xml << "<failure message=\"" << r.verdict << ", 0/" << r.max << " points\">"
                        << xml_text(r.message) << "</failure>";
                }
                xml << "</testcase>\n";
            }
            xml << "  </testsuite>\n";
        }
        xml << "</testsuites>\n";
        tsv << "total\t" << score << "\t" << max << "\n";
    }

    Options opt_;
    std::vector<Exercise> exercises_;
    std::vector<Result> results_;
};

}  // namespace

int main(int argc, char** argv) {
    Options options = parse(argc, argv);
    // Orphans of the tests (when a test kills its keeper) come back here, not to init.
    ::prctl(PR_SET_CHILD_SUBREAPER, 1);
    ::prctl(PR_SET_DUMPABLE, 0);
    ::signal(SIGPIPE, SIG_IGN);
    ::unsetenv("FORKLAB_GRADE");
    ::unsetenv("GTEST_OUTPUT");
    ::unsetenv("GTEST_FILTER");
    try {
        return Grader(std::move(options)).run();
    } catch (const std::exception& e) {
        std::cerr << "forklab_grade: " << e.what() << "\n";
        return 2;
    }
}
