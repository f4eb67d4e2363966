/// \file
/// \brief Starting child processes and reading how they ended.
#pragma once

#include <sys/types.h>

#include <functional>
#include <initializer_list>
#include <string>

namespace forklab::ch01 {

/// How one child process ended, as waitpid(2) reported it.
struct ChildExit {
    pid_t pid = 0;   ///< The child.
    int status = 0;  ///< The raw wait status.

    /// True when the child called exit or _exit.
    [[nodiscard]] bool exited() const noexcept;
    /// The exit code (valid when exited()).
    [[nodiscard]] int exit_code() const noexcept;
    /// True when a signal ended the child.
    [[nodiscard]] bool signaled() const noexcept;
    /// The signal that ended the child (valid when signaled()).
    [[nodiscard]] int signal() const noexcept;
    /// True for a clean end: exit code 0.
    [[nodiscard]] bool clean() const noexcept { return exited() && exit_code() == 0; }
    /// "exited with code 3" or "killed by signal 9 (Killed)" (with ", core dumped" when so).
    [[nodiscard]] std::string describe() const;
};

/// Runs \p body in a new child process and returns the child's pid to the parent.
///
/// The child never returns into the caller's code: it ends in _exit with body's return value, or
/// with 70 if body throws (the exception is logged). All signals are blocked around fork(), and the
/// child resets every caught signal to its default (and sets those in \p ignore to SIG_IGN) before
/// unblocking, so a signal cannot run a parent's handler in the child (pitfall 19).
/// Throws std::system_error naming fork when the process cannot be created (EAGAIN, ENOMEM): in a
/// loop, catch it and back off.
pid_t spawn(const std::function<int()>& body, std::initializer_list<int> ignore = {});

}  // namespace forklab::ch01
