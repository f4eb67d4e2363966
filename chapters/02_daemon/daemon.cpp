/// \file
/// \brief The reference seam of chapter 02: detach(), Readiness and PidFile.
#include "daemon.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <vector>

#include "forklab/error.hpp"

namespace forklab::ch02 {

namespace {

// The readiness message: one byte of kind, then the text; the pipe's end-of-file ends it.
constexpr char kind_ready = 'R';
constexpr char kind_error = 'E';

//! [launcher]
/// The launcher's life after the first fork: wait for the daemon's word, then exit with it.
[[noreturn]] void wait_as_launcher(Fd pipe, pid_t intermediate) {
    std::string message;
    char buf[512];
    for (;;) {
        ssize_t n = ::read(pipe.get(), buf, sizeof buf);
        if (n > 0) {
            message.append(buf, static_cast<std::size_t>(n));
        } else if (n == 0 || errno != EINTR) {
            break;  // end-of-file: the daemon has spoken, or died without a word
        }
    }
    while (::waitpid(intermediate, nullptr, 0) == -1 && errno == EINTR) {
    }
    if (!message.empty() && message[0] == kind_ready) {
        std::cout << message.substr(1) << std::endl;
        ::_exit(0);
    }
    if (message.empty()) {
        std::cerr << program_invocation_short_name
                  << ": the daemon exited during start-up without a word" << std::endl;
    } else {
        std::cerr << message.substr(1) << std::endl;
    }
    ::_exit(1);
}
//! [launcher]

/// The descriptors open in this process, above 2.
std::vector<int> open_descriptors() {
    std::vector<int> fds;
    if (DIR* dir = ::opendir("/proc/self/fd")) {
        while (dirent* entry = ::readdir(dir)) {
            int fd = std::atoi(entry->d_name);
            if (entry->d_name[0] != '.' && fd > 2 && fd != ::dirfd(dir)) {
                fds.push_back(fd);
            }
        }
        ::closedir(dir);
        return fds;
    }
    // No /proc (a chroot): try every number up to the limit.
    rlimit limit{};
    int max = ::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY
                  ? static_cast<int>(std::min<rlim_t>(limit.rlim_cur, 1 << 16))
                  : 1024;
    for (int fd = 3; fd < max; ++fd) {
        if (::fcntl(fd, F_GETFD) != -1) {
            fds.push_back(fd);
        }
    }
    return fds;
}

/// Closes every descriptor above 2 that is neither in \p keep nor \p also_keep.
void close_inherited(std::initializer_list<int> keep, int also_keep) {
    for (int fd : open_descriptors()) {
        if (fd != also_keep && std::find(keep.begin(), keep.end(), fd) == keep.end()) {
            ::close(fd);
        }
    }
}

/// Unblocks every signal and un-ignores those the caller ignored (nohup ignores HUP, a script's
/// background job INT and QUIT): the daemon starts from the defaults, not from its caller's state.
void reset_signal_state() {
    sigset_t none;
    sigemptyset(&none);
    (void)::sigprocmask(SIG_SETMASK, &none, nullptr);
    for (int sig = 1; sig < NSIG; ++sig) {
        struct sigaction old {};
        if (::sigaction(sig, nullptr, &old) == 0 && old.sa_handler == SIG_IGN) {
            (void)::signal(sig, SIG_DFL);
        }
    }
}

/// Points stdin, stdout and stderr at /dev/null.
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

/// Sends one message and closes the pipe: end-of-file tells the launcher the message is complete.
void send(Fd& pipe, char kind, const std::string& text) {
    std::string message = kind + text;
    // A launcher killed meanwhile cannot be told (EPIPE): the daemon runs on regardless.
    (void)write_all(pipe.get(), message.data(), message.size());
    pipe.reset();
}

/// In the intermediate process or the daemon: report \p what failed, then end this process.
[[noreturn]] void fail_and_exit(Fd& pipe, const std::string& what) {
    int err = errno;
    Readiness(std::move(pipe)).fail(what + ": " + std::strerror(err));
    ::_exit(1);
}

}  // namespace

//! [ready]
void Readiness::ready(const std::string& line) {
    if (!pipe_) {
        std::cout << line << std::endl;  // the foreground: stdio stays the caller's
        return;
    }
    detach_stdio();  // the last moment: nothing can fail before the launcher is told
    send(pipe_, kind_ready, line);
}
//! [ready]

void Readiness::fail(const std::string& message) {
    if (pipe_) {
        send(pipe_, kind_error, message);
    } else {
        std::cerr << message << std::endl;
    }
}

//! [detach]
Readiness detach(std::initializer_list<int> keep) {
    Pipe pipe = make_pipe();  // before the first fork: the launcher must hold the read end
    std::cout.flush();        // nothing buffered may be written twice, once by each process
    pid_t first = ::fork();
    if (first == -1) {
        throw_errno("fork");
    }
    if (first > 0) {
        pipe.write_end.reset();  // else the launcher would never see end-of-file
        wait_as_launcher(std::move(pipe.read_end), first);
    }
    // The intermediate process: leave the launcher's session and process group ...
    pipe.read_end.reset();
    if (::setsid() == -1) {
        fail_and_exit(pipe.write_end, "setsid");
    }
    // ... then fork again: the daemon is not the session leader, so opening a terminal can never
    // make it the daemon's controlling terminal.
    pid_t second = ::fork();
    if (second == -1) {
        fail_and_exit(pipe.write_end, "fork");
    }
    if (second > 0) {
        ::_exit(0);  // reaped by the launcher; the daemon is handed to init (or a subreaper)
    }
    // The daemon: inherit no signal state, pin no file system, create no world-readable files,
    // keep no stray descriptor (a caller's pipe held open here would make the caller wait).
    reset_signal_state();
    if (::chdir("/") == -1) {
        fail_and_exit(pipe.write_end, "chdir /");
    }
    ::umask(027);
    close_inherited(keep, pipe.write_end.get());
    return Readiness(std::move(pipe.write_end));
}
//! [detach]

//! [pid_file]
PidFile PidFile::acquire(const std::string& path) {
    for (int attempt = 0;; ++attempt) {
        PidFile file;
        // O_NOFOLLOW: a symlink planted at the path is refused instead of followed to its target.
        file.fd_.reset(::open(path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644));
        if (!file.fd_) {
            throw_errno("open pid file " + path);
        }
        struct stat st {};
        if (::fstat(file.fd_.get(), &st) == -1) {
            throw_errno("fstat pid file " + path);
        }
        if (!S_ISREG(st.st_mode)) {
            throw std::runtime_error("pid file " + path + ": not a regular file");
        }
        // The lock, not the contents, says whether a daemon runs; a holder means "running".
        if (::flock(file.fd_.get(), LOCK_EX | LOCK_NB) == -1) {
            if (errno != EWOULDBLOCK) {
                throw_errno("flock pid file " + path);
            }
            char text[32] = {};
            ssize_t n = ::pread(file.fd_.get(), text, sizeof text - 1, 0);
            throw AlreadyRunning(n > 0 ? static_cast<pid_t>(std::atol(text)) : 0);
        }
        // A daemon that was stopping may have removed the file between our open and our lock:
        // then we locked a file nobody can find. Start again with whatever is at the path now.
        struct stat now {};
        if (::lstat(path.c_str(), &now) == -1 || now.st_dev != st.st_dev ||
            now.st_ino != st.st_ino) {
            if (attempt < 10) {
                continue;
            }
            throw std::runtime_error("pid file " + path + ": keeps being replaced");
        }
        // We hold the lock: whatever the file says is stale (a crash). Replace it with our pid.
        std::string pid = std::to_string(::getpid()) + "\n";
        if (::ftruncate(file.fd_.get(), 0) == -1 ||
            ::pwrite(file.fd_.get(), pid.data(), pid.size(), 0) !=
                static_cast<ssize_t>(pid.size())) {
            throw_errno("write pid file " + path);
        }
        if ((st.st_mode & 07777) != 0644 && ::fchmod(file.fd_.get(), 0644) == -1) {
            throw_errno("fchmod pid file " + path);  // readable by all, whatever the umask
        }
        file.path_ = path;
        return file;
    }
}
//! [pid_file]

void PidFile::release() noexcept {
    if (fd_ && !path_.empty()) {
        // Remove the file while the lock is still held, so that a new daemon's fresh file can
        // never be removed by mistake. After a privilege drop the directory may not allow it:
        // then empty the file, which the next start takes over since nobody holds its lock.
        if (::unlink(path_.c_str()) == -1) {
            [[maybe_unused]] int ignored = ::ftruncate(fd_.get(), 0);
        }
    }
    fd_.reset();
    path_.clear();
}

void PidFile::rename(const std::string& to) {
    if (::rename(path_.c_str(), to.c_str()) == -1) {
        throw_errno("rename pid file " + path_ + " to " + to);
    }
    path_ = to;
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
