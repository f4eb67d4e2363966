/// \file
/// \brief The kit's one error policy for setup calls.
///
/// Setup failures (socket, bind, open, fork when starting ...) throw std::system_error whose
/// message names the call and its argument, for example "bind 127.0.0.1:8080: Address already in
/// use". Inside loops, expected errno values are handled where they occur, not thrown. Library code
/// never exits the process.
#pragma once

#include <cerrno>
#include <string>
#include <system_error>

namespace forklab {

/// Throws std::system_error for \p err (default: the current errno) with \p what as context.
[[noreturn]] inline void throw_errno(const std::string& what, int err = errno) {
    throw std::system_error(err, std::generic_category(), what);
}

}  // namespace forklab
