/// \file
/// \brief The worker's side of the pipe: what chapter 03's worker loop does, told to the master.
///
/// Chapter 04's workers run chapter 03's loop unchanged (forklab::ch03::run_worker, with its accept
/// lock); the loop calls a hook after every change of the worker's scoreboard slot, and this is
/// the hook. It sends a record only when the change is one the master counts: starting and
/// exiting, idle (waiting for the lock or in accept: one record for both) and busy.
#pragma once

#include <sys/types.h>

#include "03_prefork_flock/scoreboard.hpp"
#include "records.hpp"

namespace forklab::ch04 {

/// Turns slot changes into records on the pipe \p fd (the write end; not owned). Lives in the
/// worker, one per worker.
class Reporter {
  public:
    /// Writes to \p fd, the write end of the master's pipe.
    explicit Reporter(int fd) : fd_(fd) {}

    /// The hook: called by the worker loop with its slot after each state change.
    void changed(const ch03::Slot& slot);

  private:
    int fd_;
    int last_ = 0;   // the RecordKind last sent; 0: none yet
    pid_t pid_ = 0;  // this worker (the Reporter is built in the master, before the fork)
};

/// The record a slot state is worth: 0 for none (a worker still starting says nothing).
int record_kind_of(ch03::SlotState state);

}  // namespace forklab::ch04
