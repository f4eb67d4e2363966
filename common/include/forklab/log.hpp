/// \file
/// \brief One line per event, naming pid and role, to stderr or a reopenable file.
///
/// A line looks like `2026-11-23 01:02:03.456 [12345 worker] served 10 requests, retiring`.
/// Each line goes out in one write(2) on a descriptor opened with O_APPEND, so lines from many
/// processes sharing one log file do not interleave. Never call these from a signal handler.
#pragma once

#include <sstream>
#include <string>
#include <string_view>

namespace forklab::log {

/// Sends the log to \p path (created 0640, appended to), or to stderr when \p path is empty, and
/// names this process's role. Throws std::system_error naming open when the file cannot be opened.
void init(std::string_view role, const std::string& path = "");

/// Renames this process's role (a child calls this right after fork).
void set_role(std::string_view role);

/// Reopens the log file by its path (after rotation: SIGUSR1). Returns false, and keeps writing to
/// the old descriptor, when it cannot; the failure itself is logged. A stderr log does nothing.
bool reopen();

/// The descriptor lines are written to (stderr when no file was set).
int fd() noexcept;

/// Writes one line: the time, pid and role, then \p message.
void write_line(std::string_view message) noexcept;

/// Writes one line made of \p parts, each streamed with operator<<.
template <typename... Parts>
void line(const Parts&... parts) {
    std::ostringstream out;
    (out << ... << parts);
    write_line(out.str());
}

}  // namespace forklab::log
