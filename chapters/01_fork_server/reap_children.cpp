/// \file
/// \brief The reference reaper (exercise 01's seam).
#include <sys/wait.h>

#include <cerrno>

#include "forklab/error.hpp"
#include "reap.hpp"

namespace forklab::ch01 {

//! [reap]
std::vector<ChildExit> reap_children() {
    std::vector<ChildExit> ended;
    for (;;) {
        int status = 0;
        pid_t pid = ::waitpid(-1, &status, WNOHANG);
        if (pid > 0) {
            ended.push_back(ChildExit{pid, status});
            continue;  // SIGCHLDs coalesce: keep going until nobody else has ended
        }
        if (pid == 0) {
            break;  // children remain, none has ended
        }
        if (errno == EINTR) {
            continue;
        }
        if (errno == ECHILD) {
            break;  // no children at all
        }
        throw_errno("waitpid");
    }
    return ended;
}
//! [reap]

}  // namespace forklab::ch01
