/// \file
/// \brief A half-fixed exercise 01, for the grading tests: it reaps every ended child without
/// blocking, but reports only the children that exited, not those killed by a signal, so the
/// parent's count of children drifts with every crash.
#include <sys/wait.h>

#include "01_fork_server/reap.hpp"

namespace forklab {

std::vector<ch01::ChildExit> ch01::reap_children() {
    std::vector<ch01::ChildExit> ended;
    int status = 0;
    for (pid_t pid; (pid = ::waitpid(-1, &status, WNOHANG)) > 0;) {
        if (WIFEXITED(status)) {
            ended.push_back(ch01::ChildExit{pid, status});
        }
    }
    return ended;
}

}  // namespace forklab
