/// \file
/// \brief Exercise 02: detach the server properly and guard it with a pid file.
///
/// This is the starter. It works well enough to start a daemon and refuse a second one, and it
/// makes the mistakes the chapter's page describes. Read exercises/02_daemon/README.md, then make
/// the chapter's tests pass with
///
///     cmake --build --preset dev --target grade_ex02
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>

#include "daemon.hpp"
#include "forklab/error.hpp"

namespace forklab::ch02 {

namespace {

constexpr char kind_ready = 'R';

/// Given: the launcher waits for the daemon's word on the pipe, then exits with it.
[[noreturn]] void wait_as_launcher(Fd pipe, pid_t child) {
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
    (void)child;
    if (!message.empty() && message[0] == kind_ready) {
        std::cout << message.substr(1) << std::endl;
        ::_exit(0);
    }
    std::cerr << (message.empty() ? std::string("the daemon exited during start-up")
                                  : message.substr(1))
              << std::endl;
    ::_exit(1);
}

void send(Fd& pipe, char kind, const std::string& text) {
    std::string message = kind + text;
    write_all(pipe.get(), message.data(), message.size());
    pipe.reset();
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
        send(pipe_, 'E', message);
    } else {
        std::cerr << message << std::endl;
    }
}

Readiness detach(std::initializer_list<int> keep) {
    (void)keep;
    Pipe pipe = make_pipe();
    std::cout.flush();
    pid_t child = ::fork();
    if (child == -1) {
        throw_errno("fork");
    }
    if (child > 0) {
        pipe.write_end.reset();
        wait_as_launcher(std::move(pipe.read_end), child);
    }
    pipe.read_end.reset();
    ::setsid();  // a new session, and we are done?
    return Readiness(std::move(pipe.write_end));
}

void detach_stdio() {
    int null = ::open("/dev/null", O_RDWR);
    ::dup2(null, STDIN_FILENO);
    ::dup2(null, STDOUT_FILENO);
    ::dup2(null, STDERR_FILENO);
}

PidFile PidFile::acquire(const std::string& path) {
    PidFile file;
    // Create it only if it does not exist yet: then nobody else is running. Right?
    file.fd_.reset(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
    if (!file.fd_) {
        if (errno != EEXIST) {
            throw_errno("open pid file " + path);
        }
        pid_t other = static_cast<pid_t>(std::atol(
            std::string(std::istreambuf_iterator<char>(*std::make_unique<std::ifstream>(path)),
                        std::istreambuf_iterator<char>())
                .c_str()));
        if (::kill(other, 0) == 0) {
            throw AlreadyRunning(other);
        }
        throw std::runtime_error("pid file " + path + " exists: remove it if the daemon is dead");
    }
    std::string pid = std::to_string(::getpid()) + "\n";
    write_all(file.fd_.get(), pid.data(), pid.size());
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
