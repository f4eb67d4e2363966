/// \file
/// \brief The live upgrade: the old master's side (USR2, hand-over, rollback) and the new
/// master's word.
#include "upgrade.hpp"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <utility>

#include "01_fork_server/spawn.hpp"
#include "forklab/error.hpp"
#include "forklab/log.hpp"
#include "listen_fds.hpp"
#include "notify.hpp"

namespace forklab::ch07 {

namespace {

using std::chrono::milliseconds;

/// The one message on the readiness pipe: end-of-file without it means "not ready".
constexpr char ready_byte = 'R';

long ms_since(std::chrono::steady_clock::time_point t) {
    return static_cast<long>(
        std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - t).count());
}

}  // namespace

Fd take_ready_pipe() {
    const char* value = std::getenv(ready_fd_variable);
    if (value == nullptr) {
        return Fd();
    }
    int fd = static_cast<int>(std::strtol(value, nullptr, 10));
    ::unsetenv(ready_fd_variable);
    struct stat st {};
    if (fd <= STDERR_FILENO || ::fstat(fd, &st) == -1 || !S_ISFIFO(st.st_mode)) {
        throw std::runtime_error(std::string(ready_fd_variable) + "=" + value +
                                 ": not an open pipe");
    }
    set_cloexec(fd);
    return Fd(fd);
}

LiveUpgrade::LiveUpgrade(int listener, const ch03::Scoreboard& board, ch02::PidFile& pid_file,
                         UpgradeConfig config, Fd to_old_master)
    : listener_(listener),
      board_(board),
      pid_file_(pid_file),
      config_(std::move(config)),
      pid_path_(pid_file.path()),
      to_old_master_(std::move(to_old_master)) {}

void LiveUpgrade::on_signal(int sig) {
    if (sig == SIGUSR2) {
        begin();
    } else if (sig == SIGQUIT || sig == SIGTERM || sig == SIGINT) {
        leaving_ = true;
        if (state_ == State::starting) {
            roll_back("is not wanted any more: the old master is stopping");
        }
    }
}

//! [begin]
void LiveUpgrade::begin() {
    if (state_ != State::idle) {
        log::line("USR2 refused: an upgrade to new master ", new_master_, " is in progress");
        return;
    }
    if (leaving_) {
        log::line("USR2 refused: stopping");
        return;
    }
    if (!announced_) {
        log::line("USR2 before my workers are up: the upgrade starts once they are");
        usr2_pending_ = true;
        return;
    }
    try {
        if (!pid_path_.empty()) {
            pid_file_.rename(pid_path_ + ".oldbin");  // the new master takes the path
        }
        Pipe ready = make_pipe();  // close-on-exec: only the copy placed at 4 crosses exec
        ExecPlan plan(
            config_.binary, config_.argv,
            {std::string(ready_fd_variable) + "=" + std::to_string(listen_fds_start + 1)});
        new_master_ = ch01::spawn([&] {
            plan.exec(listener_, ready.write_end.get());
            log::line("exec ", config_.binary, ": ", std::strerror(errno));
            return 127;
        });
        from_new_master_ = std::move(ready.read_end);  // the write end closes here: EOF = gone
    } catch (const std::exception& e) {
        log::line("USR2: cannot start a new master: ", e.what());
        if (!pid_path_.empty() && pid_file_.path() != pid_path_) {
            pid_file_.rename(pid_path_);
        }
        return;
    }
    state_ = State::starting;
    killed_ = false;
    started_ = Clock::now();
    deadline_ = started_ + milliseconds(config_.timeout_ms);
    log::line("USR2: started new master ", new_master_, " from ", config_.binary,
              "; waiting up to ", config_.timeout_ms, " ms for it to be ready");
}
//! [begin]

//! [hand_over]
void LiveUpgrade::on_readable() {
    if (!from_new_master_) {
        return;
    }
    char byte = 0;
    ssize_t n = ::read(from_new_master_.get(), &byte, 1);
    if (n == -1 && (errno == EINTR || errno == EAGAIN)) {
        return;
    }
    from_new_master_.reset();
    if (state_ != State::starting) {
        return;
    }
    if (n == 1 && byte == ready_byte) {
        hand_over();
    }
    // End-of-file without the word: the new master died (its exit follows at once and says how)
    // or closed the pipe; either way it is not ready, and the deadline still stands.
}

void LiveUpgrade::hand_over() {
    state_ = State::handed_over;
    log::line("new master ", new_master_, " is ready after ", ms_since(started_),
              " ms: stopping my workers gracefully and leaving");
    // The old master asks itself to QUIT, as an operator would: chapter 03's graceful stop, in
    // which every worker finishes its request and serves what is queued before it exits.
    ::kill(::getpid(), SIGQUIT);
}
//! [hand_over]

//! [roll_back]
void LiveUpgrade::roll_back(const std::string& why) {
    log::line("upgrade failed: new master ", new_master_, " ", why,
              "; rolling back, still serving");
    state_ = State::rolling_back;
    from_new_master_.reset();
    ::kill(new_master_, SIGQUIT);  // it is our unreaped child: the pid cannot be a stranger's
    deadline_ = Clock::now() + milliseconds(config_.graceful_timeout_ms);
}

void LiveUpgrade::on_other_child(const ch01::ChildExit& end) {
    if (end.pid != new_master_ || state_ == State::idle) {
        return;
    }
    if (state_ == State::handed_over) {
        log::line("new master ", end.pid, " ", end.describe(), " after taking over");
        state_ = State::idle;
        return;
    }
    if (state_ == State::starting) {  // reaped: its pid may not be signalled any more
        log::line("upgrade failed: new master ", end.pid, " ", end.describe(),
                  " before it was ready; rolling back, still serving");
    }
    gone(end.describe());
}

/// The new master has been reaped during a rollback: the pid file may name this master again
/// (not earlier: the new master removes the file at its path when it leaves).
void LiveUpgrade::gone(const std::string& how) {
    if (!pid_path_.empty() && pid_file_.path() != pid_path_) {
        try {
            pid_file_.rename(pid_path_);
        } catch (const std::system_error& e) {
            log::line("cannot move the pid file back: ", e.what());
        }
    }
    log::line("rolled back: new master ", new_master_, " ", how, "; serving as before");
    state_ = State::idle;
    new_master_ = 0;
}
//! [roll_back]

LiveUpgrade::Clock::time_point LiveUpgrade::on_turn() {
    Clock::time_point next = Clock::time_point::max();
    if (!announced_) {
        if (workers_ready()) {
            announce();
        } else {
            next = Clock::now() + milliseconds(20);  // workers do not tell the master they are up
        }
    }
    if (state_ == State::starting && Clock::now() >= deadline_) {
        roll_back("was not ready within " + std::to_string(config_.timeout_ms) + " ms");
    }
    if (state_ == State::rolling_back && !killed_ && Clock::now() >= deadline_) {
        log::line("new master ", new_master_, " did not leave in time: SIGKILL");
        ::kill(new_master_, SIGKILL);
        killed_ = true;
    }
    if ((state_ == State::starting || state_ == State::rolling_back) && !killed_) {
        next = std::min(next, deadline_);
    }
    return next;
}

bool LiveUpgrade::workers_ready() const {
    long up = 0;
    for (std::size_t i = 0; i < board_.size(); ++i) {
        auto s = static_cast<ch03::SlotState>(board_.slot(i).state.load());
        up += s == ch03::SlotState::waiting || s == ch03::SlotState::accepting ||
              s == ch03::SlotState::busy;
    }
    return up >= config_.workers;
}

//! [announce]
/// The new master's word, given once: to the old master, then to the service manager, which
/// learns the new main pid with it (the unit needs NotifyAccess=all for that).
void LiveUpgrade::announce() {
    announced_ = true;
    if (to_old_master_) {
        if (!write_all(to_old_master_.get(), &ready_byte, 1)) {
            log::line("cannot tell the old master that I am ready: ", std::strerror(errno));
        }
        to_old_master_.reset();
    }
    if (notify("MAINPID=" + std::to_string(::getpid()) + "\nREADY=1")) {
        log::line("told the service manager: ready");
    }
    log::line("ready: ", config_.workers, " workers accepting");
    if (std::exchange(usr2_pending_, false)) {
        begin();
    }
}
//! [announce]

void LiveUpgrade::finish() {
    if (new_master_ == 0 || state_ == State::handed_over) {
        return;
    }
    ::kill(new_master_, SIGKILL);
    while (::waitpid(new_master_, nullptr, 0) == -1 && errno == EINTR) {
    }  // SIGKILL: not long
    gone("was killed: the old master stopped during the upgrade");
}

}  // namespace forklab::ch07
