/// \file
/// \brief accept(2) with errno sorted into what a server loop must do next.
#pragma once

#include "forklab/fd.hpp"

namespace forklab::ch01 {

/// What one accept attempt produced; every errno accept(2) can return maps to one of these.
enum class AcceptStatus {
    accepted,     ///< A connection; AcceptResult::conn owns it.
    would_block,  ///< Nothing queued (EAGAIN on a non-blocking listener): go back to waiting.
    retry,        ///< Interrupted or the client gave up first (EINTR, ECONNABORTED, EPROTO,
                  ///< network errors Linux passes up from the new socket): try again.
    shed,         ///< Out of descriptors (EMFILE/ENFILE): one queued connection was accepted on
                  ///< the spare descriptor and closed, so the queue shrinks and the loop cannot
                  ///< spin. The client sees a close.
    backoff,      ///< Out of descriptors or memory and nothing could be shed: stop polling the
                  ///< listener for a while (Acceptor::backoff_ms) instead of spinning.
};

/// The outcome of Acceptor::accept().
struct AcceptResult {
    AcceptStatus status;  ///< What happened.
    Fd conn;              ///< The connection when status is accepted.
    int error = 0;        ///< The errno behind any other status.
};

/// Accepts connections from one listening socket.
///
/// Keeps a spare descriptor (open on /dev/null) so that when the process runs out of descriptors
/// it can still take one connection off the queue and close it, instead of leaving it queued and
/// waking up for it forever (the EMFILE spin). Accepted descriptors are close-on-exec; they are
/// non-blocking only when asked.
class Acceptor {
  public:
    /// Does not take ownership of \p listen_fd. Throws std::system_error if /dev/null cannot be
    /// opened for the spare.
    explicit Acceptor(int listen_fd, bool nonblocking_connections = false);

    /// One accept attempt. Throws std::system_error only for errors that mean a bug or a broken
    /// listener (EBADF, EINVAL, ENOTSOCK, EFAULT, EOPNOTSUPP).
    AcceptResult accept();

    /// How long a caller should stop polling the listener after AcceptStatus::backoff.
    static constexpr int backoff_ms = 100;

    /// The listening descriptor.
    [[nodiscard]] int listen_fd() const noexcept { return listen_fd_; }

    /// Closes the spare descriptor (a child that will not accept calls this after fork).
    void drop_spare() noexcept { spare_.reset(); }

  private:
    AcceptResult shed_one(int err);

    int listen_fd_;
    bool nonblocking_;
    Fd spare_;
};

}  // namespace forklab::ch01
