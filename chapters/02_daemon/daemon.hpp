/// \file
/// \brief Chapter 02's seam: detaching from the terminal with a readiness pipe to the launcher,
/// and a pid file held under a lock.
#pragma once

#include <sys/types.h>

#include <initializer_list>
#include <stdexcept>
#include <string>

#include "forklab/fd.hpp"

namespace forklab::ch02 {

/// How the daemon tells the launcher how its start-up ended.
///
/// The launcher (the process the user started) waits on the other end of a pipe and exits only
/// when ready() or fail() has been called, or with an error when the pipe closes without a word
/// (the daemon died during start-up).
class Readiness {
  public:
    /// A server in the foreground has no launcher: ready() prints the line on stdout, fail()
    /// writes the message on stderr, and stdio stays where it is.
    Readiness() = default;
    /// Takes ownership of the write end of the readiness pipe (a detached daemon).
    explicit Readiness(Fd pipe) : pipe_(std::move(pipe)) {}

    /// Start-up is over and the server is listening. A detached daemon first points stdin, stdout
    /// and stderr at /dev/null (every error up to now could still reach the terminal), then sends
    /// \p line: the launcher prints it on its stdout and exits 0. Throws std::system_error if
    /// /dev/null cannot be opened; the readiness is then still pending.
    void ready(const std::string& line);
    /// Start-up failed: the launcher prints \p message on its stderr and exits 1.
    void fail(const std::string& message);
    /// True while the launcher still waits for ready() or fail().
    [[nodiscard]] bool pending() const { return pipe_.valid(); }

  private:
    Fd pipe_;
};

/// Detaches the calling process from its terminal and session: fork, setsid, fork; signal mask
/// emptied and inherited SIG_IGN dispositions reset; chdir("/"); umask(027); every descriptor
/// above 2 closed except those in \p keep.
///
/// Never returns in the launcher: it waits on the readiness pipe and exits 0 after ready(), 1
/// after fail() or if the daemon dies first, after reaping the intermediate process. Returns in
/// the daemon, which is in a new session but not its leader, so it can never acquire a
/// controlling terminal. stdin, stdout and stderr are left alone, so start-up errors can still
/// reach the terminal; Readiness::ready() lets go of them. Throws std::system_error if the pipe
/// or the first fork fails (in the original process, which then stays attached).
Readiness detach(std::initializer_list<int> keep);

/// Thrown by PidFile::acquire() when another process holds the lock.
class AlreadyRunning : public std::runtime_error {
  public:
    /// \p pid is what the file says (0 if it could not be read).
    explicit AlreadyRunning(pid_t pid)
        : std::runtime_error("already running, pid " + std::to_string(pid)), pid_(pid) {}
    /// The running daemon's pid, as its pid file says.
    [[nodiscard]] pid_t pid() const { return pid_; }

  private:
    pid_t pid_;
};

/// A pid file that is locked (flock) for as long as this object lives.
///
/// A locked file means a daemon is running; an unlocked one is stale, whatever it contains. The
/// lock belongs to the open file description: processes forked later share it, and it is released
/// when the last descriptor for it closes, however its holders end.
class PidFile {
  public:
    /// Opens \p path without following a symlink, takes the lock without waiting, and writes this
    /// process's pid in it (mode 0644 whatever the umask). Throws AlreadyRunning if another open
    /// file description holds the lock, or std::system_error naming the call and the path.
    static PidFile acquire(const std::string& path);

    /// No pid file.
    PidFile() = default;
    /// Takes over \p other's file and lock; \p other is left empty.
    PidFile(PidFile&& other) noexcept = default;
    /// Releases this object's file (see ~PidFile()), then takes over \p other's.
    PidFile& operator=(PidFile&& other) noexcept;
    /// Removes the file (or empties it when its directory does not allow that), then closes it,
    /// which releases the lock once no forked child holds the description any more.
    ~PidFile();

    /// Moves the file to \p to (rename(2)): the lock goes with it, since it belongs to the open
    /// file, and from then on \p to is the path this object removes. A live upgrade moves the old
    /// master's file aside (nginx's `.oldbin`) so that the new master can take the path, and back
    /// if the upgrade fails. Throws std::system_error naming rename and both paths.
    void rename(const std::string& to);

    /// The path, or "" for no pid file.
    [[nodiscard]] const std::string& path() const { return path_; }

  private:
    void release() noexcept;

    std::string path_;
    Fd fd_;
};

}  // namespace forklab::ch02
