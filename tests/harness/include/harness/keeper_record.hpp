/// \file
/// \brief What forklab_keeper reports to the test about the processes it started and reaped.
#pragma once

#include <sys/types.h>

namespace forklab::test {

/// One report on the keeper's report pipe (small enough to be written atomically).
struct KeeperRecord {
    /// What happened to pid.
    enum Kind : int {
        kStarted = 0,  ///< The keeper started pid (the first record).
        kExited = 1,   ///< The keeper reaped pid; status is waitpid's.
    };
    pid_t pid;   ///< The process.
    int status;  ///< waitpid's status for kExited.
    Kind kind;   ///< What the record says.
};

}  // namespace forklab::test
