/// \file
/// \brief Signals turned into events that a loop can wait on (the self-pipe trick).
///
/// A handler may only touch async-signal-safe state. Here each handler writes the signal's number
/// as one byte to a non-blocking pipe and returns; the loop polls the pipe's read end next to its
/// other descriptors and does the real work. Nothing else happens in a handler: no logging, no
/// allocation, no locks (signal-safety(7)).
#pragma once

#include <csignal>
#include <initializer_list>
#include <vector>

#include "forklab/fd.hpp"

namespace forklab::ch01 {

/// Routes a set of signals into a pipe. At most one instance exists per process at a time.
class SignalEvents {
  public:
    /// Installs handlers for \p signals. Throws std::logic_error if another instance exists,
    /// std::system_error if a call fails.
    ///
    /// With \p restart (the default) the handlers use SA_RESTART: an interrupted system call
    /// resumes. Without it, a blocking call (flock, accept ...) fails with EINTR when one of these
    /// signals arrives, which is how a worker blocked on a lock notices a stop request.
    explicit SignalEvents(std::initializer_list<int> signals, bool restart = true);
    /// Restores the default disposition of each signal and closes the pipe.
    ~SignalEvents();
    SignalEvents(const SignalEvents&) = delete;
    SignalEvents& operator=(const SignalEvents&) = delete;

    /// Readable (POLLIN) when a signal has arrived since the last take().
    [[nodiscard]] int fd() const noexcept { return read_end_.get(); }

    /// Drains the pipe and returns the signals that arrived, oldest first, each at most once.
    std::vector<int> take();

    /// Adds a signal to the set handled by this instance.
    void add(int sig);

  private:
    Fd read_end_;
    Fd write_end_;
    std::vector<int> signals_;
    bool restart_ = true;
};

/// Ignores SIGPIPE for the whole process, so that writing to a vanished client returns EPIPE
/// instead of killing the process. Every server calls this first.
void ignore_sigpipe();

/// Blocks signals for the lifetime of the object and restores the previous mask after.
///
/// Two uses, one class. Around fork(), every signal is blocked so that no handler of the parent
/// runs in the child before the child has reset its dispositions (see spawn()). A pool master also
/// *holds* the stop signals it sends its workers across the fork (pitfall 19): the child inherits
/// the block, installs its own handlers, then calls unblock_signals(); a signal that arrived in
/// between waits for those handlers instead of running its default action (SIGQUIT dumps core,
/// SIGHUP and SIGUSR1 kill) or being lost.
class BlockedSignals {
  public:
    /// Blocks every signal that can be blocked.
    BlockedSignals();
    /// Blocks \p signals, in addition to whatever is blocked already.
    explicit BlockedSignals(std::initializer_list<int> signals);
    /// Restores the mask in force before the constructor.
    ~BlockedSignals();
    BlockedSignals(const BlockedSignals&) = delete;
    BlockedSignals& operator=(const BlockedSignals&) = delete;

    /// The mask that was in force before.
    [[nodiscard]] const sigset_t& previous() const noexcept { return previous_; }

  private:
    sigset_t previous_;
};

/// In a child forked under BlockedSignals, once its own handlers are installed: unblocks
/// \p signals. Those that arrived since the fork are delivered now, to the new handlers.
void unblock_signals(std::initializer_list<int> signals);

/// In a freshly forked child, with signals blocked: sets every signal routed by the parent's
/// SignalEvents back to SIG_DFL, or to SIG_IGN for those in \p ignore, and closes the parent's
/// signal pipe, so the parent's handlers never run in the child. (SignalEvents is the kit's only
/// way to catch a signal.) One sigaction per signal: a fork per connection pays for each.
void reset_signals_in_child(std::initializer_list<int> ignore = {}) noexcept;

}  // namespace forklab::ch01
