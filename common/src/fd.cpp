/// \file
/// \brief Fd, pipes, and writing everything.
#include "forklab/fd.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "forklab/error.hpp"

namespace forklab {

void Fd::reset(int fd) noexcept {
    if (fd_ >= 0 && fd_ != fd) {
        // close(2) on Linux releases the descriptor even when it reports EINTR: never retry it.
        ::close(fd_);
    }
    fd_ = fd;
}

void set_nonblocking(int fd, bool on) {
    int flags = ::fcntl(fd, F_GETFL);
    if (flags == -1) {
        throw_errno("fcntl F_GETFL");
    }
    flags = on ? (flags | O_NONBLOCK) : (flags & ~O_NONBLOCK);
    if (::fcntl(fd, F_SETFL, flags) == -1) {
        throw_errno("fcntl F_SETFL");
    }
}

void set_cloexec(int fd) {
    int flags = ::fcntl(fd, F_GETFD);
    if (flags == -1 || ::fcntl(fd, F_SETFD, flags | FD_CLOEXEC) == -1) {
        throw_errno("fcntl FD_CLOEXEC");
    }
}

Pipe make_pipe(int flags) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC | flags) == -1) {
        throw_errno("pipe2");
    }
    return Pipe{Fd(fds[0]), Fd(fds[1])};
}

bool write_all(int fd, const void* data, std::size_t len) noexcept {
    const char* p = static_cast<const char*>(data);
    bool socket = true;
    while (len > 0) {
        ssize_t n = socket ? ::send(fd, p, len, MSG_NOSIGNAL) : ::write(fd, p, len);
        if (n == -1 && socket && errno == ENOTSOCK) {
            socket = false;  // a pipe or file: plain write (SIGPIPE is ignored by every server)
            continue;
        }
        if (n == -1) {
            if (errno == EINTR) {
                continue;
            }
            return false;
        }
        p += n;
        len -= static_cast<std::size_t>(n);
    }
    return true;
}

}  // namespace forklab
