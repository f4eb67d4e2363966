/// \file
/// \brief A half-fixed exercise 01, for the grading tests: it no longer blocks (WNOHANG), but it
/// still reaps one child per call, so a burst of exits leaves zombies and a wrong count.
#include <sys/wait.h>

#include "01_fork_server/reap.hpp"

namespace forklab {

std::vector<ch01::ChildExit> ch01::reap_children() {
    std::vector<ch01::ChildExit> ended;
    int status = 0;
    pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid > 0) {
        ended.push_back(ch01::ChildExit{pid, status});
    }
    return ended;
}

}  // namespace forklab
