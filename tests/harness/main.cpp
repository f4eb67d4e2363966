/// \file
/// \brief The main of every test binary: GoogleTest, with SIGPIPE ignored and the test process a
/// child subreaper.
///
/// Points and scores are not its business: the grader (tests/grader) runs each test on its own and
/// takes the points from the exercise's table (tests/NN_name/points.txt).
#include <gtest/gtest.h>
#include <sys/prctl.h>

#include <csignal>

int main(int argc, char** argv) {
    ::testing::InitGoogleTest(&argc, argv);
    // Writing to a server that closed must not kill the test.
    std::signal(SIGPIPE, SIG_IGN);
    // Orphans of what a test forks itself come back to it rather than to init. Servers started
    // through the harness sit below a keeper of their own (harness/kept.hpp).
    ::prctl(PR_SET_CHILD_SUBREAPER, 1);
    return RUN_ALL_TESTS();
}
