/// \file
/// \brief Dropping root for good.
#pragma once

#include <string>

namespace forklab::ch02 {

/// Becomes user \p name for good: supplementary groups dropped, then the group, then the user,
/// each checked; then verifies that root cannot be regained.
///
/// Call it after everything that needs root is done (binding a low port, opening the pid file and
/// the log). Throws std::runtime_error (or std::system_error naming the call) when the process is
/// not root, the user is unknown, or any step fails: a half-dropped process must not serve.
void drop_privileges(const std::string& name);

}  // namespace forklab::ch02
