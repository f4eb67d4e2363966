/// \file
/// \brief The reference accept lock (exercise 03's seam).
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

//! [create]
AcceptLock AcceptLock::create(LockKind kind, const std::string& path) {
    AcceptLock lock;
    lock.kind_ = kind;
    if (kind == LockKind::flock || kind == LockKind::fcntl) {
        lock.path_ = path;
        if (path.empty()) {
            // A directory only we can enter: nobody can plant a symlink or pre-create the file.
            // Under $TMPDIR when it names an absolute path, as mktemp(1) does; else /tmp.
            const char* base = std::getenv("TMPDIR");
            std::string dir = std::string(base != nullptr && base[0] == '/' ? base : "/tmp") +
                              "/forklab-lock-XXXXXX";
            if (::mkdtemp(dir.data()) == nullptr) {
                throw_errno("mkdtemp " + dir);
            }
            lock.private_dir_ = dir;
            lock.path_ = lock.private_dir_ + "/accept.lock";
        }
        Fd file(::open(lock.path_.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600));
        if (!file) {
            int err = errno;
            if (!lock.private_dir_.empty()) {
                lock.remove();  // what we made; a path given to us is not ours to unlink
            }
            throw_errno("open lock file " + lock.path_, err);
        }
        // The master keeps no descriptor: each worker opens its own (open_in_worker).
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
        ::pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
        ::pthread_mutex_init(lock.mutex_, &attr);
        ::pthread_mutexattr_destroy(&attr);
    }
    return lock;
}
//! [create]

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

//! [open_in_worker]
void AcceptLock::open_in_worker() {
    if (kind_ == LockKind::flock || kind_ == LockKind::fcntl) {
        fd_.reset(::open(path_.c_str(), O_RDWR | O_NOFOLLOW | O_CLOEXEC));
        if (!fd_) {
            throw_errno("open lock file " + path_);
        }
    }
}
//! [open_in_worker]

//! [acquire]
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
            int r = ::pthread_mutex_timedlock(mutex_, &deadline);
            if (r == EOWNERDEAD) {
                ::pthread_mutex_consistent(mutex_);  // the holder died: the lock is ours now
                return true;
            }
            if (r == 0 || r == ETIMEDOUT) {
                return r == 0;
            }
            throw_errno("pthread_mutex_timedlock", r);  // never a silent spin
        }
    }
    if (errno == EINTR) {
        return false;
    }
    throw_errno(std::string(to_string(kind_)) + " " + path_);
}
//! [acquire]

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
    if (!path_.empty()) {
        ::unlink(path_.c_str());
    }
    if (!private_dir_.empty()) {
        ::rmdir(private_dir_.c_str());
        private_dir_.clear();
    }
}

}  // namespace forklab::ch03
