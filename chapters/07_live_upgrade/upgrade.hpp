/// \file
/// \brief The live upgrade, as an extension of chapter 03's master loop: USR2 starts the new
/// binary with the listener, waits for its word, then hands over or rolls back.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

#include "02_daemon/daemon.hpp"
#include "03_prefork_flock/pool.hpp"
#include "03_prefork_flock/scoreboard.hpp"
#include "forklab/fd.hpp"

namespace forklab::ch07 {

/// The environment variable naming the descriptor on which a new master tells the old one that it
/// is ready.
inline constexpr const char* ready_fd_variable = "FORKLAB_READY_FD";

/// What the upgrade needs to know about the server it upgrades.
struct UpgradeConfig {
    std::string binary;             ///< The path to exec, resolved at start (it may be replaced).
    std::vector<std::string> argv;  ///< The master's command line, given to the new master.
    long timeout_ms = 30000;        ///< How long a new master may take to be ready.
    long graceful_timeout_ms = 10000;  ///< How long a failed new master may take to leave.
    long workers = 4;                  ///< Ready means: this many workers in their accept loop.
};

/// At start-up: the write end of the readiness pipe to the old master ($FORKLAB_READY_FD), taken
/// over (close-on-exec set, the variable unset), or an empty Fd when this start is no upgrade.
/// Throws std::runtime_error when the variable names no open pipe.
Fd take_ready_pipe();

/// The upgrade, in both roles, driven by the pool's loop (see ch03::PoolExtension).
///
/// As the new master: once its workers are in their accept loop, it says so once on the
/// readiness pipe (if it was started by an upgrade) and to $NOTIFY_SOCKET (if a service manager
/// started it), naming itself as the main pid.
///
/// As the old master, on SIGUSR2: moves the pid file aside (PATH.oldbin), forks and execs the
/// binary with the listener as descriptor 3 and the readiness pipe as descriptor 4, and waits.
/// Ready: it asks itself to QUIT (its workers finish and drain, chapter 03) and leaves; the pid
/// file names the new master. The new master exits, closes the pipe without a word, or is not
/// ready in time: it is asked to QUIT (SIGKILL after the graceful timeout), the pid file is moved
/// back once it is reaped, and the old master serves on. A USR2 during an upgrade is refused.
class LiveUpgrade : public ch03::PoolExtension {
  public:
    /// \p listener, \p board and \p pid_file are borrowed (\p pid_file may have no path);
    /// \p to_old_master is the readiness pipe from take_ready_pipe().
    LiveUpgrade(int listener, const ch03::Scoreboard& board, ch02::PidFile& pid_file,
                UpgradeConfig config, Fd to_old_master);

    void on_signal(int sig) override;                          ///< USR2; a stop.
    void on_other_child(const ch01::ChildExit& end) override;  ///< The new master's end.
    [[nodiscard]] int fd() const override { return from_new_master_.get(); }  ///< Its pipe.
    void on_readable() override;           ///< Its word, or end-of-file.
    Clock::time_point on_turn() override;  ///< Deadlines; own readiness.

    /// After the pool's loop has ended: a new master that has not taken over is killed and
    /// reaped, and the pid file moved back, so nothing of a failed upgrade outlives the server.
    void finish();

  private:
    enum class State { idle, starting, rolling_back, handed_over };
    void begin();
    void hand_over();
    void roll_back(const std::string& why);
    void gone(const std::string& how);
    void announce();
    [[nodiscard]] bool workers_ready() const;

    int listener_;
    const ch03::Scoreboard& board_;
    ch02::PidFile& pid_file_;
    UpgradeConfig config_;
    std::string pid_path_;       // the path the pid file had at start ("" for none)
    Fd to_old_master_;           // the new master's side
    bool announced_ = false;     // the new master's word was given
    bool leaving_ = false;       // a stop was asked: no upgrade now
    bool usr2_pending_ = false;  // a USR2 came before the workers were up
    State state_ = State::idle;
    pid_t new_master_ = 0;
    Fd from_new_master_;  // the old master's side
    Clock::time_point started_{};
    Clock::time_point deadline_{};  // starting: the ready timeout; rolling back: the SIGKILL
    bool killed_ = false;
};

}  // namespace forklab::ch07
