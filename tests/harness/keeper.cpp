/// \file
/// \brief forklab_keeper: the process between a test and the server it starts, so that nothing
/// the server starts outlives the test, however the test ends.
///
///     forklab_keeper BINARY ARGS...     (fd 3 the life pipe, fd 4 reports, fd 5-7 the server's
///                                       stdin, stdout and stderr, fd 8 and up, if any, passed
///                                       on to the server as 3 and up)
///
/// The keeper is a child subreaper (PR_SET_CHILD_SUBREAPER): whatever the server forks and
/// orphans, a daemon after setsid and a double fork included, comes back to it rather than to
/// init. It starts BINARY with ARGS in a process group of its own, with descriptors 0-2 (and 3 and
/// up when a test passes some on purpose) and no other, and waits. Its own 0-2 are /dev/null from
/// the start: a server that writes to its parent's stdout through /proc finds nothing there.
/// Every child it reaps is reported on fd 4 as a KeeperRecord (the first record names the started
/// pid). When the life pipe (fd 3) reaches end-of-file, that is when the test closed its end or
/// died (abort, SIGKILL, a CTest timeout), the keeper kills everything below it, reaps it and
/// exits.
#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <string>

#include "harness/keeper_record.hpp"
#include "harness/procfs.hpp"

namespace {

constexpr int kLifeFd = 3;
constexpr int kReportFd = 4;
constexpr int kStdioFd = 5;   // 5, 6, 7: the server's 0, 1, 2
constexpr int kPassedFd = 8;  // 8 and up: the server's 3 and up

void on_child(int) {}  // only interrupts ppoll

/// Reports \p record; drops it when the test does not read (the keeper must never block).
void report(forklab::test::KeeperRecord record) {
    [[maybe_unused]] ssize_t n = ::write(kReportFd, &record, sizeof record);
}

void reap_and_report() {
    int status = 0;
    for (pid_t pid; (pid = ::waitpid(-1, &status, WNOHANG)) > 0;) {
        report({pid, status, forklab::test::KeeperRecord::kExited});
    }
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        const char usage[] =
            "usage: forklab_keeper BINARY ARGS... (fd 3: life pipe, fd 4: "
            "reports)\n";
        [[maybe_unused]] ssize_t n = ::write(STDERR_FILENO, usage, sizeof usage - 1);
        return 2;
    }
    // Not dumpable: another process of the same user cannot open its descriptors through /proc
    // (to write a report of its own on fd 4, say).
    if (::prctl(PR_SET_CHILD_SUBREAPER, 1) == -1 || ::prctl(PR_SET_DUMPABLE, 0) == -1 ||
        ::fcntl(kReportFd, F_SETFL, O_NONBLOCK) == -1) {
        std::string msg = std::string("forklab_keeper: setup: ") + std::strerror(errno) + "\n";
        [[maybe_unused]] ssize_t n = ::write(STDERR_FILENO, msg.data(), msg.size());
        return 1;
    }
    sigset_t chld;
    sigset_t waiting;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    ::sigprocmask(SIG_BLOCK, &chld, &waiting);
    sigdelset(&waiting, SIGCHLD);
    struct sigaction sa {};
    sa.sa_handler = on_child;
    ::sigaction(SIGCHLD, &sa, nullptr);

    pid_t server = ::fork();
    if (server == -1) {
        return 1;
    }
    if (server == 0) {
        ::setpgid(0, 0);
        sa.sa_handler = SIG_DFL;
        ::sigaction(SIGCHLD, &sa, nullptr);
        sigset_t none;
        sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);
        // The server inherits 0-2 (and what the test passes on) only.
        for (int fd = 0; fd < 3; ++fd) {
            ::dup2(kStdioFd + fd, fd);
        }
        int passed = 0;
        while (::fcntl(kPassedFd + passed, F_GETFD) != -1) {
            ::dup2(kPassedFd + passed, 3 + passed);  // downwards: never onto one still to move
            ++passed;
        }
        ::close_range(static_cast<unsigned>(3 + passed), ~0U, 0);
        ::execv(argv[1], argv + 1);
        std::string msg = std::string("exec ") + argv[1] + ": " + std::strerror(errno) + "\n";
        [[maybe_unused]] ssize_t n = ::write(STDERR_FILENO, msg.data(), msg.size());
        ::_exit(127);
    }
    ::setpgid(server, server);  // also here: whichever runs first, the group exists
    report({server, 0, forklab::test::KeeperRecord::kStarted});
    // The keeper holds none of the server's descriptors: end-of-file on them is the server's doing.
    ::close_range(kReportFd + 1, ~0U, 0);

    for (;;) {
        reap_and_report();
        pollfd life{kLifeFd, POLLIN, 0};
        int n = ::ppoll(&life, 1, nullptr, &waiting);
        if (n == -1 && errno != EINTR) {
            break;
        }
        if (n > 0) {
            char byte;
            if (::read(kLifeFd, &byte, 1) <= 0) {
                break;  // the test is gone or done with this server
            }
        }
    }
    forklab::procfs::kill_descendants(::getpid());
    return 0;
}
