/// \file
/// \brief The reference seam of chapter 07: taking over and handing on the listener.
#include "listen_fds.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

#include "forklab/error.hpp"

extern char** environ;

namespace forklab::ch07 {

namespace {

/// The text of environment variable \p name, or "".
std::string env(const char* name) {
    const char* value = std::getenv(name);
    return value != nullptr ? value : "";
}

/// The value of \p sockopt on \p fd; throws naming it.
int socket_option(int fd, int sockopt, const char* name) {
    int value = 0;
    socklen_t len = sizeof value;
    if (::getsockopt(fd, SOL_SOCKET, sockopt, &value, &len) == -1) {
        throw_errno(std::string("getsockopt ") + name + " on LISTEN_FDS descriptor 3");
    }
    return value;
}

/// Writes \p n in decimal at \p out (room for 20 digits); async-signal-safe, unlike snprintf.
void write_decimal(char* out, long n) {
    char digits[24];
    int len = 0;
    do {
        digits[len++] = static_cast<char>('0' + n % 10);
        n /= 10;
    } while (n > 0);
    while (len > 0) {
        *out++ = digits[--len];
    }
    *out = '\0';
}

}  // namespace

//! [take_listener]
std::optional<Fd> take_listener() {
    std::string pid = env("LISTEN_PID");
    std::string fds = env("LISTEN_FDS");
    // Whatever happens next, the variables are ours alone: no child may take them for its own.
    ::unsetenv("LISTEN_PID");
    ::unsetenv("LISTEN_FDS");
    ::unsetenv("LISTEN_FDNAMES");
    if (pid.empty() || std::strtol(pid.c_str(), nullptr, 10) != ::getpid()) {
        return std::nullopt;  // not for us: inherited from a parent that was started this way
    }
    if (fds != "1") {
        throw std::runtime_error("LISTEN_FDS=" + fds + ": expected exactly one socket");
    }
    const int fd = listen_fds_start;
    if (socket_option(fd, SO_TYPE, "SO_TYPE") != SOCK_STREAM ||
        socket_option(fd, SO_ACCEPTCONN, "SO_ACCEPTCONN") == 0) {
        throw std::runtime_error("LISTEN_FDS descriptor 3 is not a listening stream socket");
    }
    sockaddr_storage address{};
    socklen_t len = sizeof address;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &len) == -1) {
        throw_errno("getsockname on LISTEN_FDS descriptor 3");
    }
    if (address.ss_family != AF_INET && address.ss_family != AF_INET6) {
        throw std::runtime_error("LISTEN_FDS descriptor 3 is not a TCP socket");
    }
    set_cloexec(fd);  // it crossed one exec; it must not leak into the next one unasked
    return Fd(fd);
}
//! [take_listener]

ExecPlan::ExecPlan(std::string binary, std::vector<std::string> argv,
                   std::vector<std::string> extra)
    : binary_(std::move(binary)), argv_strings_(std::move(argv)) {
    for (char** e = environ; *e != nullptr; ++e) {
        if (std::strncmp(*e, "LISTEN_", 7) != 0) {
            env_strings_.emplace_back(*e);
        }
    }
    env_strings_.emplace_back("LISTEN_FDS=1");
    for (std::string& e : extra) {
        env_strings_.push_back(std::move(e));
    }
    pid_entry_ = env_strings_.size();
    env_strings_.emplace_back("LISTEN_PID=" + std::string(24, '\0'));  // room for any pid
    for (std::string& a : argv_strings_) {
        argv_.push_back(a.data());
    }
    argv_.push_back(nullptr);
    for (std::string& e : env_strings_) {
        env_.push_back(e.data());
    }
    env_.push_back(nullptr);
}

//! [exec]
void ExecPlan::exec(int listener, int keep) noexcept {
    // First move both above 4, so that neither target slot holds the other descriptor ...
    int l = ::fcntl(listener, F_DUPFD_CLOEXEC, 5);
    int k = keep >= 0 ? ::fcntl(keep, F_DUPFD_CLOEXEC, 5) : -1;
    if (l == -1 || (keep >= 0 && k == -1)) {
        return;
    }
    // ... then dup2 onto 3 and 4: a copy made by dup2 is never close-on-exec. (dup2(3, 3) would
    // do nothing at all, close-on-exec flag included: the socket would vanish at exec.)
    if (::dup2(l, listen_fds_start) == -1 || (k >= 0 && ::dup2(k, listen_fds_start + 1) == -1)) {
        return;
    }
    write_decimal(env_strings_[pid_entry_].data() + std::strlen("LISTEN_PID="), ::getpid());
    ::execve(binary_.c_str(), argv_.data(), env_.data());
}
//! [exec]

}  // namespace forklab::ch07
