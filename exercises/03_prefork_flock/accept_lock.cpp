/// \file
/// \brief Exercise 03: the accept lock.
///
/// This is the starter. It compiles, the pool runs and answers, and yet the lock does not do
/// its job. Read exercises/03_prefork_flock/README.md, then make the chapter's tests pass with
///
///     cmake --build --preset dev --target grade_ex03
#include "accept_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <ctime>
#include <utility>

#include "forklab/error.hpp"

namespace forklab::ch03 {

std::optional<LockKind> parse_lock_kind(const std::string& text) {
    if (text == "flock") {
        return LockKind::flock;
    }
    if (text == "fcntl") {
        return LockKind::fcntl;
    }
    if (text == "none") {
        return LockKind::none;
    }
    if (text == "mutex") {
        return LockKind::mutex;
    }
    return std::nullopt;
}

const char* to_string(LockKind kind) {
    switch (kind) {
        case LockKind::flock:
            return "flock";
        case LockKind::fcntl:
            return "fcntl";
        case LockKind::none:
            return "none";
        case LockKind::mutex:
            return "mutex";
    }
    return "?";
}

AcceptLock AcceptLock::create(LockKind kind, const std::string& path) {
    AcceptLock lock;
    lock.kind_ = kind;
    if (kind == LockKind::flock || kind == LockKind::fcntl) {
        // A well-known name: easy to find when debugging.
        lock.path_ = path.empty() ? "/tmp/forklab-accept.lock" : path;
        // Open it once here; every worker inherits the descriptor across fork.
        lock.fd_.reset(::open(lock.path_.c_str(), O_RDWR | O_CREAT, 0644));
        if (!lock.fd_) {
            throw_errno("open lock file " + lock.path_);
        }
    } else if (kind == LockKind::mutex) {
        void* mem = ::mmap(nullptr, sizeof(pthread_mutex_t), PROT_READ | PROT_WRITE,
                           MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (mem == MAP_FAILED) {
            throw_errno("mmap (accept mutex)");
        }
        lock.mutex_ = static_cast<pthread_mutex_t*>(mem);
        pthread_mutexattr_t attr;
        ::pthread_mutexattr_init(&attr);
        ::pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
        ::pthread_mutex_init(lock.mutex_, &attr);
        ::pthread_mutexattr_destroy(&attr);
    }
    return lock;
}

AcceptLock::AcceptLock(AcceptLock&& other) noexcept
    : kind_(other.kind_),
      path_(std::move(other.path_)),
      private_dir_(std::move(other.private_dir_)),
      fd_(std::move(other.fd_)),
      mutex_(std::exchange(other.mutex_, nullptr)) {}

AcceptLock& AcceptLock::operator=(AcceptLock&& other) noexcept {
    if (this != &other) {
        if (mutex_ != nullptr) {
            ::munmap(mutex_, sizeof(pthread_mutex_t));
        }
        kind_ = other.kind_;
        path_ = std::move(other.path_);
        private_dir_ = std::move(other.private_dir_);
        fd_ = std::move(other.fd_);
        mutex_ = std::exchange(other.mutex_, nullptr);
    }
    return *this;
}

AcceptLock::~AcceptLock() {
    if (mutex_ != nullptr) {
        ::munmap(mutex_, sizeof(pthread_mutex_t));
    }
}

void AcceptLock::open_in_worker() {
    // Nothing to do: the descriptor opened by the master came along with fork().
}

bool AcceptLock::acquire() {
    switch (kind_) {
        case LockKind::flock:
            if (::flock(fd_.get(), LOCK_EX) == 0) {
                return true;
            }
            break;
        case LockKind::fcntl: {
            struct flock whole = {};
            whole.l_type = F_WRLCK;
            whole.l_whence = SEEK_SET;
            if (::fcntl(fd_.get(), F_SETLKW, &whole) == 0) {
                return true;
            }
            break;
        }
        case LockKind::none:
            return true;
        case LockKind::mutex: {
            // A mutex wait cannot be interrupted by a signal: wake up now and then to look.
            timespec deadline{};
            ::clock_gettime(CLOCK_REALTIME, &deadline);
            deadline.tv_nsec += 100'000'000;
            if (deadline.tv_nsec >= 1'000'000'000) {
                deadline.tv_sec += 1;
                deadline.tv_nsec -= 1'000'000'000;
            }
            return ::pthread_mutex_timedlock(mutex_, &deadline) == 0;
        }
    }
    if (errno == EINTR) {
        return false;
    }
    throw_errno(std::string(to_string(kind_)) + " " + path_);
}

void AcceptLock::release() {
    switch (kind_) {
        case LockKind::flock:
            ::flock(fd_.get(), LOCK_UN);
            break;
        case LockKind::fcntl: {
            struct flock whole = {};
            whole.l_type = F_UNLCK;
            whole.l_whence = SEEK_SET;
            ::fcntl(fd_.get(), F_SETLK, &whole);
            break;
        }
        case LockKind::none:
            break;
        case LockKind::mutex:
            ::pthread_mutex_unlock(mutex_);
            break;
    }
}

void AcceptLock::remove() {
    // Leave the file for next time.
}

}  // namespace forklab::ch03
