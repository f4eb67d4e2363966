/// \file
/// \brief Chapter 02's seam: detaching from the terminal, and a pid file held under a lock.
#pragma once

#include <sys/types.h>

#include <initializer_list>
#include <stdexcept>
#include <string>

#include "forklab/fd.hpp"

namespace forklab::ch02 {

/// The daemon's end of the readiness pipe: how it tells the launcher how start-up ended.
///
/// The launcher (the process the user started) waits on the other end and exits only when one
/// of these is sent, or with an error when the pipe closes without a word (the daemon died).
class Readiness {
  public:
    /// A daemon in the foreground has no launcher: ready() prints, fail() writes to stderr.
    Readiness() = default;
    /// Takes ownership of the write end of the pipe.
    explicit Readiness(Fd pipe) : pipe_(std::move(pipe)) {}

    /// Start-up succeeded: the launcher prints \p line on its stdout and exits 0.
    void ready(const std::string& line);
    /// Start-up failed: the launcher prints \p message on its stderr and exits 1.
    void fail(const std::string& message);
    /// True while the launcher still waits for ready() or fail().
    [[nodiscard]] bool pending() const { return pipe_.valid(); }

  private:
    Fd pipe_;
};

/// Detaches the calling process from its terminal: fork, setsid, fork; chdir("/"); umask(027);
/// every descriptor above 2 closed except those in \p keep.
///
/// Never returns in the launcher: it waits on the readiness pipe and exits (0 after ready(),
/// 1 after fail() or if the daemon dies first). Returns in the daemon, which is not a session
/// leader and so can never acquire a controlling terminal. stdin, stdout and stderr are left
/// alone, so start-up errors still reach the terminal; call detach_stdio() once start-up is done.
/// Throws std::system_error if a call fails before the launcher's fork.
Readiness detach(std::initializer_list<int> keep);

/// Points stdin, stdout and stderr at /dev/null. Throws std::system_error on failure.
void detach_stdio();

/// Thrown by PidFile::acquire() when another process holds the lock.
class AlreadyRunning : public std::runtime_error {
  public:
    /// \p pid is what the file says (may be 0 if it could not be read).
    explicit AlreadyRunning(pid_t pid)
        : std::runtime_error("already running, pid " + std::to_string(pid)), pid_(pid) {}
    /// The running daemon's pid, as its pid file says.
    [[nodiscard]] pid_t pid() const { return pid_; }

  private:
    pid_t pid_;
};

/// A pid file that is locked (flock) for as long as this object lives.
///
/// A locked file means a daemon is running; an unlocked one is stale, whatever it contains.
class PidFile {
  public:
    /// Opens \p path without following a symlink (mode 0644), takes the lock without waiting and
    /// writes this process's pid. Throws AlreadyRunning if another process holds the lock, or
    /// std::system_error naming the call and path.
    static PidFile acquire(const std::string& path);

    PidFile() = default;
    PidFile(PidFile&&) noexcept = default;
    /// Removes the file (or empties it when removal is not allowed), then releases the lock.
    PidFile& operator=(PidFile&& other) noexcept;
    ~PidFile();

    /// The path, or "" for no pid file.
    [[nodiscard]] const std::string& path() const { return path_; }

  private:
    void release() noexcept;

    std::string path_;
    Fd fd_;
};

}  // namespace forklab::ch02
