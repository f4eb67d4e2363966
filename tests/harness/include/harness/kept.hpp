/// \file
/// \brief A process started under forklab_keeper: it and everything it starts die with the test.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "forklab/fd.hpp"

namespace forklab::test {

/// Starts \p binary with \p args below a keeper process (forklab_keeper), with \p in, \p out and
/// \p err as its descriptors 0-2 and no other descriptor but those in \p pass (which it gets as 5,
/// 6
/// ...: a test of what a server does with descriptors it inherits). The keeper is a child
/// subreaper: the process, its children and any daemon it detaches stay below it, and the keeper
/// kills them all when this object closes its life pipe (destruction) or when the test process
/// dies, however it dies (abort, SIGKILL, a CTest timeout). Exits are read from the keeper's
/// reports, since the test is no longer their parent.
class Kept {
  public:
    /// Starts it; throws std::system_error when the keeper cannot be started.
    Kept(const std::string& binary, const std::vector<std::string>& args, int in, int out, int err,
         const std::vector<int>& pass = {});
    /// Kills whatever is still running below the keeper and reaps the keeper.
    ~Kept();
    Kept(const Kept&) = delete;
    Kept& operator=(const Kept&) = delete;

    /// The pid of the started process (the launcher, for a daemon).
    [[nodiscard]] pid_t launched() const { return launched_; }
    /// The keeper's pid (the parent of the launched process and of every orphan below it).
    [[nodiscard]] pid_t keeper() const { return keeper_; }
    /// The waitpid status of \p pid once the keeper has reaped it; nothing before.
    std::optional<int> status_of(pid_t pid);
    /// Waits at most \p timeout for \p pid to be reaped; its status, or nothing.
    std::optional<int> wait_for(pid_t pid, std::chrono::milliseconds timeout);
    /// Every live process below the keeper (not the keeper).
    [[nodiscard]] std::vector<pid_t> processes() const;
    /// Kills everything below the keeper and waits for the keeper to end.
    void end();

  private:
    void drain();

    pid_t keeper_ = -1;
    pid_t launched_ = -1;
    Fd life_;     // write end: end-of-file tells the keeper to kill everything
    Fd reports_;  // read end of the keeper's KeeperRecords
    std::map<pid_t, int> exits_;
};

/// waitpid's status as an exit code: the code, or 128+signal.
int decode_status(int status);

/// The path of a binary as seen by another process: /proc/self/exe means the caller's own binary.
std::string resolve_binary(const std::string& binary);

}  // namespace forklab::test
