/// \file
/// \brief Holding signals across fork until the child has its handlers (pitfall 19).
///
/// spawn() blocks every signal around fork() and resets the child's handlers to their defaults
/// before it unblocks what was blocked before. A signal that the master sends to a worker in the
/// instant after that, before the worker has installed its own handlers, then runs its default
/// action: SIGQUIT dumps core, SIGHUP and SIGUSR1 kill. Ignoring such signals until then loses
/// them instead (a USR1 that asked to reopen the log, say). Holding them loses nothing: the master
/// forks with them blocked, the child inherits the block, and releases it once its handlers are in
/// place; whatever arrived meanwhile is delivered then.
#pragma once

#include <csignal>
#include <initializer_list>

namespace forklab {

/// Blocks a set of signals in the calling process for the object's lifetime, then restores the
/// previous mask. A child forked meanwhile (spawn() hands the mask down) starts with them blocked
/// and must call release_held() once its handlers are installed.
class HeldSignals {
  public:
    /// Blocks \p signals (in addition to whatever is blocked already).
    explicit HeldSignals(std::initializer_list<int> signals);
    /// Restores the mask in force before the constructor.
    ~HeldSignals();
    HeldSignals(const HeldSignals&) = delete;
    HeldSignals& operator=(const HeldSignals&) = delete;

  private:
    sigset_t previous_;
};

/// In a child forked under HeldSignals, after its own handlers are installed: unblocks \p signals.
/// Those that arrived since the fork are delivered now, to the new handlers.
void release_held(std::initializer_list<int> signals);

}  // namespace forklab
