/// \file
/// \brief Reaping children: exercise 01's seam.
///
/// The reference version lives in common/src/reap_children.cpp and is what every chapter links;
/// `ex01_fork_server` links the student's version from exercises/01_fork_server/ instead.
#pragma once

#include <vector>

#include "spawn.hpp"

namespace forklab::ch01 {

/// Collects every child of this process that has ended, without blocking.
///
/// Contract: returns at once, also when no child has ended or when there are no children at all;
/// after it returns, no ended child of this process is left a zombie (SIGCHLD signals coalesce,
/// so one signal may stand for many exits); each ended child appears exactly once, in the order
/// waitpid(2) reported it. EINTR is retried; ECHILD means "no children", not an error.
std::vector<ChildExit> reap_children();

}  // namespace forklab::ch01
