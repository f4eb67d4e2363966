/// \file
/// \brief Chapter 07's seam: the listening socket across exec, by the systemd protocol.
///
/// The process that execs puts the socket at descriptor 3 without close-on-exec and says so in the
/// environment: `LISTEN_FDS=1` (one socket, from 3 on) and `LISTEN_PID=<the pid that execs>`,
/// which only the child itself can know, so it is written between fork and exec. The process that
/// starts checks that the variables are meant for it and that descriptor 3 is what it expects,
/// then uses it instead of binding. systemd's socket activation speaks the same protocol
/// (sd_listen_fds(3)), so one start-up path serves both.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "forklab/fd.hpp"

namespace forklab::ch07 {

/// The first descriptor passed by the protocol (SD_LISTEN_FDS_START).
inline constexpr int listen_fds_start = 3;

/// At start-up, before anything opens a descriptor: the listener passed by LISTEN_FDS, or
/// nothing when no socket was passed to this process (no LISTEN_PID, or one naming another
/// process: a variable inherited from a parent that was itself activated).
///
/// When a socket was passed: checks that LISTEN_FDS is 1, that descriptor 3 is a listening
/// (SO_ACCEPTCONN) stream (SO_TYPE) socket of the IPv4 or IPv6 family (getsockname), marks it
/// close-on-exec again (it must not leak into anything this process execs later) and takes
/// ownership of it. In every case it unsets LISTEN_PID, LISTEN_FDS and LISTEN_FDNAMES, so no child
/// takes them for its own. Throws std::runtime_error (or std::system_error naming the call) when
/// the variables name this process but the descriptor is not such a socket.
std::optional<Fd> take_listener();

/// What a child needs to exec the next binary with the listener, all prepared in the parent:
/// between fork and exec the child may only make async-signal-safe calls (no allocation), so the
/// strings exist before the fork and the child only fills in its own pid.
class ExecPlan {
  public:
    /// \p binary is exec'd with \p argv (argv[0] included). The environment is this process's,
    /// less any LISTEN_* variable, plus LISTEN_FDS=1, LISTEN_PID (filled in by the child) and
    /// each of \p extra ("NAME=VALUE").
    ExecPlan(std::string binary, std::vector<std::string> argv, std::vector<std::string> extra);

    /// In the child, after fork: puts \p listener at descriptor 3 and \p keep (or -1) at
    /// descriptor 4, both without close-on-exec, writes the child's pid into LISTEN_PID and execs.
    /// Every other descriptor is expected to be close-on-exec. Only returns when something failed,
    /// with errno set; the caller logs and _exits.
    void exec(int listener, int keep) noexcept;

  private:
    std::string binary_;
    std::vector<std::string> argv_strings_;
    std::vector<std::string> env_strings_;
    std::vector<char*> argv_;
    std::vector<char*> env_;
    std::size_t pid_entry_ = 0;  // the index of "LISTEN_PID=" in env_strings_
};

}  // namespace forklab::ch07
