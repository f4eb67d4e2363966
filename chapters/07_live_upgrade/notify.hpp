/// \file
/// \brief Telling a service manager that the server is ready: systemd's Type=notify, without
/// libsystemd.
#pragma once

#include <string>

namespace forklab::ch07 {

/// Sends \p state (for example "READY=1" or "MAINPID=123\nREADY=1") as one datagram to the
/// AF_UNIX socket named by $NOTIFY_SOCKET (a path, or an abstract name when it starts with '@').
/// Returns false when there is no such variable (not started by a service manager) or the send
/// failed; the caller logs it, the server runs on either way. Leaves $NOTIFY_SOCKET set: a new
/// master started by a live upgrade needs it too.
bool notify(const std::string& state);

}  // namespace forklab::ch07
