/// \file
/// \brief Exercise 02: detach the server properly and guard it with a pid file.
///
/// This is the starter. It starts a daemon that serves, and it refuses a second one most of the
/// time; it also makes every mistake the source material made (see the chapter's page). Read
/// exercises/02_daemon/README.md, then make the chapter's tests pass with
///
///     cmake --build --preset dev --target grade_ex02
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>

#include "daemon.hpp"
#include "forklab/error.hpp"

namespace forklab::ch02 {

namespace {

/// Points \p fd at /dev/null.
void to_dev_null(int fd) {
    int null = ::open("/dev/null", O_RDWR);
    ::dup2(null, fd);
    ::close(null);
}

}  // namespace

void Readiness::ready(const std::string& line) {
    std::cout << line << std::endl;  // the caller learns that we are up ...
    to_dev_null(STDOUT_FILENO);      // ... and stdout has no further use
}

void Readiness::fail(const std::string& message) {
    std::cerr << message << std::endl;
}

Readiness detach(std::initializer_list<int> keep) {
    (void)keep;
    std::cout.flush();
    pid_t child = ::fork();
    if (child == -1) {
        throw_errno("fork");
    }
    if (child > 0) {
        ::_exit(0);  // the parent's work is done: the daemon runs in the child
    }
    ::setsid();  // a new session without a terminal
    if (::chdir("/") == -1) {
        throw_errno("chdir /");
    }
    ::umask(0);  // forget the file mode creation mask
    // A daemon has no terminal: errors go to the log from now on. (stdout is still needed for
    // the readiness line.)
    to_dev_null(STDIN_FILENO);
    to_dev_null(STDERR_FILENO);
    return Readiness();
}

PidFile PidFile::acquire(const std::string& path) {
    if (::access(path.c_str(), F_OK) == 0) {  // oops, the pid file already exists
        std::ifstream in(path);
        std::ostringstream text;
        text << in.rdbuf();
        pid_t other = static_cast<pid_t>(std::atol(text.str().c_str()));
        if (other > 0 && ::kill(other, 0) == 0) {
            throw AlreadyRunning(other);
        }
        // Its server is gone: remove the file of the defunct process.
        if (::unlink(path.c_str()) == -1) {
            throw_errno("unlink pid file " + path);
        }
    }
    PidFile file;
    file.fd_.reset(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
    if (!file.fd_) {
        throw_errno("open pid file " + path);
    }
    std::string pid = std::to_string(::getpid()) + "\n";
    (void)write_all(file.fd_.get(), pid.data(), pid.size());
    file.path_ = path;
    return file;
}

void PidFile::release() noexcept {
    if (fd_ && !path_.empty()) {
        ::unlink(path_.c_str());
    }
    fd_.reset();
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
