/// \file
/// \brief spawn() and ChildExit.
#include "spawn.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstring>
#include <exception>

#include "forklab/error.hpp"
#include "forklab/log.hpp"
#include "signals.hpp"

namespace forklab::ch01 {

bool ChildExit::exited() const noexcept {
    return WIFEXITED(status);
}
int ChildExit::exit_code() const noexcept {
    return WEXITSTATUS(status);
}
bool ChildExit::signaled() const noexcept {
    return WIFSIGNALED(status);
}
int ChildExit::signal() const noexcept {
    return WTERMSIG(status);
}

std::string ChildExit::describe() const {
    if (exited()) {
        return "exited with code " + std::to_string(exit_code());
    }
    if (signaled()) {
        std::string text =
            "killed by signal " + std::to_string(signal()) + " (" + ::strsignal(signal()) + ")";
        if (WCOREDUMP(status)) {
            text += ", core dumped";
        }
        return text;
    }
    return "changed state (wait status " + std::to_string(status) + ")";
}

//! [spawn]
pid_t spawn(const std::function<int()>& body, std::initializer_list<int> ignore) {
    BlockedSignals blocked;
    pid_t pid = ::fork();
    if (pid == -1) {
        throw_errno("fork");
    }
    if (pid > 0) {
        return pid;  // the parent: ~BlockedSignals restores its mask
    }
    // The child. Signals are still blocked: make the parent's handlers harmless first.
    reset_signals_in_child(ignore);
    ::sigprocmask(SIG_SETMASK, &blocked.previous(), nullptr);
    int code = 70;
    try {
        code = body();
    } catch (const std::exception& e) {
        log::line("child failed: ", e.what());
    } catch (...) {
        log::line("child failed: unknown exception");
    }
    ::_exit(code);  // never return into the parent's code, never run its atexit handlers
}
//! [spawn]

}  // namespace forklab::ch01
