/// \file
/// \brief The main of every test binary: GoogleTest plus points and a score.
///
/// With FORKLAB_GRADE=1 in the environment (the grade_exNN targets set it) it prints each test's
/// points and a final `Score: x/y`; the exit code is 0 only with full marks.
#include <gtest/gtest.h>
#include <sys/prctl.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace {

/// Collects points per test and prints the grade sheet at the end.
class Points : public ::testing::EmptyTestEventListener {
  public:
    void OnTestEnd(const ::testing::TestInfo& info) override {
        const ::testing::TestResult& result = *info.result();
        int points = 1;
        for (int i = 0; i < result.test_property_count(); ++i) {
            if (std::string(result.GetTestProperty(i).key()) == "points") {
                points = std::atoi(result.GetTestProperty(i).value());
            }
        }
        bool passed = result.Passed();
        if (result.Skipped()) {
            points = 0;  // cannot run here (e.g. needs root): neither earned nor lost
        }
        rows_.push_back(Row{std::string(info.test_suite_name()) + "." + info.name(), points,
                            passed ? points : 0, result.Skipped()});
    }

    void OnTestProgramEnd(const ::testing::UnitTest&) override {
        int total = 0;
        int earned = 0;
        std::printf("\n%-60s %s\n", "test", "points");
        for (const Row& r : rows_) {
            std::printf("%-60s %2d/%-2d %s\n", r.name.c_str(), r.earned, r.points,
                        r.skipped              ? "skipped"
                        : r.earned == r.points ? ""
                                               : "FAILED");
            total += r.points;
            earned += r.earned;
        }
        std::printf("Score: %d/%d\n", earned, total);
        std::fflush(stdout);
    }

  private:
    struct Row {
        std::string name;
        int points;
        int earned;
        bool skipped;
    };
    std::vector<Row> rows_;
};

}  // namespace

int main(int argc, char** argv) {
    ::testing::InitGoogleTest(&argc, argv);
    // Writing to a server that closed must not kill the test.
    std::signal(SIGPIPE, SIG_IGN);
    // Orphans of the servers we start (a daemon after its launcher exits, workers whose master
    // died) become our children, so we can wait for them and nothing outlives a test unseen.
    ::prctl(PR_SET_CHILD_SUBREAPER, 1);
    const char* grade = std::getenv("FORKLAB_GRADE");
    if (grade != nullptr && std::string(grade) == "1") {
        ::testing::UnitTest::GetInstance()->listeners().Append(new Points);
    }
    return RUN_ALL_TESTS();
}
