/// \file
/// \brief A move-only owner of one file descriptor.
#pragma once

#include <cstddef>
#include <utility>

namespace forklab {

/// Owns one file descriptor and closes it when destroyed.
///
/// Move-only: exactly one Fd owns a descriptor at a time, so a descriptor is never closed twice
/// and never leaked on an exception path. An Fd holding -1 owns nothing.
class Fd {
  public:
    Fd() noexcept = default;
    /// Takes ownership of \p fd (which may be -1).
    explicit Fd(int fd) noexcept : fd_(fd) {}
    ~Fd() { reset(); }

    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    /// Takes over \p other's descriptor; \p other is left empty.
    Fd(Fd&& other) noexcept : fd_(other.release()) {}
    /// Closes the owned descriptor, then takes over \p other's.
    Fd& operator=(Fd&& other) noexcept {
        if (this != &other) {
            reset(other.release());
        }
        return *this;
    }

    /// The descriptor, still owned by this object; -1 when empty.
    [[nodiscard]] int get() const noexcept { return fd_; }
    /// True when a descriptor is owned.
    [[nodiscard]] bool valid() const noexcept { return fd_ >= 0; }
    /// Same as valid().
    explicit operator bool() const noexcept { return valid(); }

    /// Gives up ownership without closing; the caller now owns the returned descriptor.
    [[nodiscard]] int release() noexcept { return std::exchange(fd_, -1); }
    /// Closes the owned descriptor (if any), then owns \p fd.
    void reset(int fd = -1) noexcept;

  private:
    int fd_ = -1;
};

/// Sets or clears O_NONBLOCK on \p fd. Throws std::system_error naming fcntl.
void set_nonblocking(int fd, bool on = true);
/// Sets FD_CLOEXEC on \p fd. Throws std::system_error naming fcntl.
void set_cloexec(int fd);

/// A pipe with both ends close-on-exec. Throws std::system_error naming pipe2.
struct Pipe {
    Fd read_end;   ///< Read end.
    Fd write_end;  ///< Write end.
};
/// Creates a pipe; \p flags are added to O_CLOEXEC (for example O_NONBLOCK).
Pipe make_pipe(int flags = 0);

/// Writes all of \p len bytes, retrying on EINTR and short writes (blocking descriptors).
/// Returns false with errno set when write fails (EPIPE, ECONNRESET ...). Never raises SIGPIPE on
/// sockets (uses send with MSG_NOSIGNAL when \p fd is a socket).
bool write_all(int fd, const void* data, std::size_t len) noexcept;

}  // namespace forklab
