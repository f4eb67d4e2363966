/// \file
/// \brief Exercise 07: passing the listener across exec and taking it over.
///
/// This is the starter. It compiles, the first upgrade even works, and yet the hand-over is not
/// safe. Read exercises/07_live_upgrade/README.md, then make the chapter's tests pass with
///
///     cmake --build --preset dev --target grade_ex07
#include "listen_fds.hpp"

#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <stdexcept>

extern char** environ;

namespace forklab::ch07 {

std::optional<Fd> take_listener() {
    // Starter: "a socket was passed" is taken to mean "LISTEN_FDS is set".
    const char* fds = std::getenv("LISTEN_FDS");
    if (fds == nullptr) {
        return std::nullopt;
    }
    return Fd(listen_fds_start);
}

ExecPlan::ExecPlan(std::string binary, std::vector<std::string> argv,
                   std::vector<std::string> extra)
    : binary_(std::move(binary)), argv_strings_(std::move(argv)), env_strings_(std::move(extra)) {
    env_strings_.emplace_back("LISTEN_FDS=1");
    for (char** e = environ; *e != nullptr; ++e) {
        env_strings_.emplace_back(*e);
    }
    pid_entry_ = env_strings_.size();
    env_strings_.emplace_back("LISTEN_PID=" + std::to_string(::getpid()));  // starter: the parent's
    for (std::string& a : argv_strings_) {
        argv_.push_back(a.data());
    }
    argv_.push_back(nullptr);
    for (std::string& e : env_strings_) {
        env_.push_back(e.data());
    }
    env_.push_back(nullptr);
}

void ExecPlan::exec(int listener, int keep) noexcept {
    ::dup2(listener, listen_fds_start);
    if (keep >= 0) {
        ::dup2(keep, listen_fds_start + 1);
    }
    ::execve(binary_.c_str(), argv_.data(), env_.data());
}

}  // namespace forklab::ch07
