/// \file
/// \brief The reference seam of chapter 02: detach() and PidFile.
#include "daemon.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <vector>

#include "forklab/error.hpp"

namespace forklab::ch02 {

namespace {

// The readiness message: one byte of kind, then the text, then the pipe closes.
constexpr char kind_ready = 'R';
constexpr char kind_error = 'E';

/// The launcher's life after the first fork: wait for the daemon's word, then exit with it.
[[noreturn]] void wait_as_launcher(Fd pipe, pid_t intermediate) {
    std::string message;
    char buf[512];
    for (;;) {
        ssize_t n = ::read(pipe.get(), buf, sizeof buf);
        if (n > 0) {
            message.append(buf, static_cast<std::size_t>(n));
        } else if (n == 0 || errno != EINTR) {
            break;
        }
    }
    while (::waitpid(intermediate, nullptr, 0) == -1 && errno == EINTR) {
    }
    if (!message.empty() && message[0] == kind_ready) {
        std::cout << message.substr(1) << std::endl;
        ::_exit(0);
    }
    std::cerr << (message.empty() ? std::string("the daemon exited during start-up")
                                  : message.substr(1))
              << std::endl;
    ::_exit(1);
}

/// Closes every descriptor above 2 that is neither in \p keep nor \p also_keep.
void close_inherited(std::initializer_list<int> keep, int also_keep) {
    std::vector<int> open_fds;
    if (DIR* dir = ::opendir("/proc/self/fd")) {
        while (dirent* entry = ::readdir(dir)) {
            int fd = std::atoi(entry->d_name);
            if (entry->d_name[0] != '.' && fd > 2 && fd != ::dirfd(dir)) {
                open_fds.push_back(fd);
            }
        }
        ::closedir(dir);
    }
    for (int fd : open_fds) {
        if (fd != also_keep && std::find(keep.begin(), keep.end(), fd) == keep.end()) {
            ::close(fd);
        }
    }
}

void send(Fd& pipe, char kind, const std::string& text) {
    std::string message = kind + text;
    write_all(pipe.get(), message.data(), message.size());
    pipe.reset();  // end-of-file tells the launcher the message is complete
}

}  // namespace

void Readiness::ready(const std::string& line) {
    if (pipe_) {
        send(pipe_, kind_ready, line);
    } else {
        std::cout << line << std::endl;
    }
}

void Readiness::fail(const std::string& message) {
    if (pipe_) {
        send(pipe_, kind_error, message);
    } else {
        std::cerr << message << std::endl;
    }
}

//! [detach]
Readiness detach(std::initializer_list<int> keep) {
    Pipe pipe = make_pipe();
    std::cout.flush();  // nothing buffered may be written twice, once by each process
    pid_t first = ::fork();
    if (first == -1) {
        throw_errno("fork");
    }
    if (first > 0) {
        pipe.write_end.reset();  // else the launcher would never see end-of-file
        wait_as_launcher(std::move(pipe.read_end), first);
    }
    // The intermediate child: leave the launcher's session and process group ...
    pipe.read_end.reset();
    if (::setsid() == -1) {
        Readiness(std::move(pipe.write_end)).fail(std::string("setsid: ") + std::strerror(errno));
        ::_exit(1);
    }
    // ... then fork again, so the daemon is not a session leader and can never acquire a
    // controlling terminal by opening one.
    pid_t second = ::fork();
    if (second == -1) {
        Readiness(std::move(pipe.write_end)).fail(std::string("fork: ") + std::strerror(errno));
        ::_exit(1);
    }
    if (second > 0) {
        ::_exit(0);
    }
    // The daemon.
    if (::chdir("/") == -1) {
        Readiness(std::move(pipe.write_end)).fail(std::string("chdir /: ") + std::strerror(errno));
        ::_exit(1);
    }
    ::umask(027);
    close_inherited(keep, pipe.write_end.get());
    return Readiness(std::move(pipe.write_end));
}
//! [detach]

void detach_stdio() {
    Fd null(::open("/dev/null", O_RDWR | O_CLOEXEC));
    if (!null) {
        throw_errno("open /dev/null");
    }
    for (int fd : {STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO}) {
        if (::dup2(null.get(), fd) == -1) {
            throw_errno("dup2 /dev/null");
        }
    }
}

//! [pid_file]
PidFile PidFile::acquire(const std::string& path) {
    PidFile file;
    // O_NOFOLLOW: a symlink planted at the path is refused instead of followed to its target.
    file.fd_.reset(::open(path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644));
    if (!file.fd_) {
        throw_errno("open pid file " + path);
    }
    if (::flock(file.fd_.get(), LOCK_EX | LOCK_NB) == -1) {
        if (errno != EWOULDBLOCK) {
            throw_errno("flock pid file " + path);
        }
        char text[32] = {};
        ssize_t n = ::pread(file.fd_.get(), text, sizeof text - 1, 0);
        throw AlreadyRunning(n > 0 ? static_cast<pid_t>(std::atol(text)) : 0);
    }
    // We hold the lock: whatever the file says is stale. Replace it with our pid.
    std::string pid = std::to_string(::getpid()) + "\n";
    if (::ftruncate(file.fd_.get(), 0) == -1 ||
        ::pwrite(file.fd_.get(), pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
        throw_errno("write pid file " + path);
    }
    file.path_ = path;
    return file;
}
//! [pid_file]

void PidFile::release() noexcept {
    if (fd_ && !path_.empty()) {
        // Remove the file while the lock is still held, so no other daemon's fresh file can be
        // removed by mistake. After a privilege drop the directory may not allow it: then empty it.
        if (::unlink(path_.c_str()) == -1) {
            [[maybe_unused]] int ignored = ::ftruncate(fd_.get(), 0);
        }
    }
    fd_.reset();  // closing the last descriptor releases the lock
    path_.clear();
}

PidFile& PidFile::operator=(PidFile&& other) noexcept {
    if (this != &other) {
        release();
        path_ = std::move(other.path_);
        fd_ = std::move(other.fd_);
    }
    return *this;
}

PidFile::~PidFile() {
    release();
}

}  // namespace forklab::ch02
