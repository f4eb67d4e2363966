/// \file
/// \brief Chapter 03's seam: the lock that lets one worker at a time wait in accept.
#pragma once

#include <pthread.h>

#include <optional>
#include <string>

#include "forklab/fd.hpp"

namespace forklab::ch03 {

/// How the workers take turns at accept (`--accept-lock`).
enum class LockKind {
    flock,  ///< flock(2) on a lock file that each worker opens itself.
    fcntl,  ///< fcntl(F_SETLKW) record lock on the same file (Stevens' serv03, Apache's default).
    none,   ///< No lock: every idle worker polls the listener (the thundering herd).
    mutex,  ///< A robust process-shared pthread mutex in shared memory (Stevens' serv04, made
            ///< robust: a holder that dies is detected with EOWNERDEAD).
};

/// "flock", "fcntl", "none", "mutex" -> the kind; nothing for anything else.
std::optional<LockKind> parse_lock_kind(const std::string& text);
/// The kind's name.
const char* to_string(LockKind kind);

/// The accept lock. The master creates it before forking; each worker then calls
/// open_in_worker() once, and acquire()/release() around every wait for a connection.
class AcceptLock {
  public:
    /// In the master, before any fork. For flock and fcntl: creates the lock file, mode 0600, never
    /// through a symlink, at \p path, or (with \p path empty) in a new private directory (mkdtemp,
    /// mode 0700) under $TMPDIR when it is an absolute path, else under /tmp. For mutex: a robust
    /// process-shared mutex in an anonymous shared mapping. Throws std::system_error naming the
    /// call and path.
    static AcceptLock create(LockKind kind, const std::string& path);

    AcceptLock() = default;
    /// Takes over \p other's lock; \p other is left empty.
    AcceptLock(AcceptLock&& other) noexcept;
    /// Releases this lock's mapping and takes over \p other's.
    AcceptLock& operator=(AcceptLock&& other) noexcept;
    AcceptLock(const AcceptLock&) = delete;
    AcceptLock& operator=(const AcceptLock&) = delete;
    /// Unmaps the mutex (files are removed by remove(), by the master only).
    ~AcceptLock();

    /// In a worker, right after fork: opens the worker's own descriptor of the lock file, so its
    /// lock is its own (a descriptor inherited across fork shares one open file description,
    /// and one flock, with every other worker). Throws std::system_error on failure.
    void open_in_worker();

    /// Blocks until this worker holds the lock. Returns false, not holding it, when a signal
    /// interrupted the wait (or, for the mutex, after a short timeout): the caller looks at its
    /// signals and calls again. A holder that died never blocks the others.
    bool acquire();

    /// Releases the lock held since acquire() returned true.
    void release();

    /// In the master at exit: removes the lock file, and the private directory if it made one.
    void remove();

    /// The lock file ("" for none and mutex).
    [[nodiscard]] const std::string& path() const { return path_; }
    /// The kind.
    [[nodiscard]] LockKind kind() const { return kind_; }

  private:
    LockKind kind_ = LockKind::none;
    std::string path_;
    std::string private_dir_;           // created by create(), removed by remove()
    Fd fd_;                             // the worker's own descriptor (flock, fcntl)
    pthread_mutex_t* mutex_ = nullptr;  // in MAP_SHARED memory (mutex)
};

}  // namespace forklab::ch03
