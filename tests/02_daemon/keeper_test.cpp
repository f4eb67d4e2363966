/// \file
/// \brief The harness's promise that nothing outlives a test: a process that started a daemon
/// through the harness is killed with SIGKILL (or aborts) mid-test, and within 2 s nothing it
/// started is left, the daemon (setsid, double fork) and its connection child included.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <regex>
#include <string>
#include <vector>

#include "forklab/fd.hpp"
#include "harness/http_client.hpp"
#include "harness/kept.hpp"
#include "harness/proc.hpp"
#include "harness/wait.hpp"

namespace forklab::test {
namespace {

/// A stand-in for a test process: starts the daemon below a keeper, gives it a slow request,
/// reports every pid below the keeper on \p report, then waits to be killed. Runs in a child.
[[noreturn]] void doomed_test(int report) {
    Pipe out = make_pipe();
    Fd devnull(::open("/dev/null", O_RDWR | O_CLOEXEC));
    Kept daemon(FORKLAB_DAEMON, {"--listen", "127.0.0.1:0"}, devnull.get(), out.write_end.get(),
                devnull.get());
    out.write_end.reset();
    std::string line;
    char buf[256];
    for (ssize_t n; line.find('\n') == std::string::npos &&
                    (n = ::read(out.read_end.get(), buf, sizeof buf)) > 0;) {
        line.append(buf, static_cast<std::size_t>(n));
    }
    std::smatch m;
    if (!std::regex_search(line, m, std::regex(R"(127\.0\.0\.1:(\d+) pid (\d+))"))) {
        ::_exit(3);
    }
    auto master = static_cast<pid_t>(std::stol(m[2]));
    Fd slow = connect_to(std::stoi(m[1]));
    send_all(slow.get(), "GET /sleep/20000 HTTP/1.1\r\n\r\n");
    // The daemon (the pid its readiness line gives), its child for the slow request and the
    // keeper: three processes. Counting everything below the keeper could also catch the double
    // fork's middle process on its way out, which then reads as a process that is not alive.
    pid_t child = 0;
    eventually(
        [&] {
            std::vector<ProcStat> kids = children_of(master);
            child = kids.size() == 1 ? kids[0].pid : 0;
            return child > 0;
        },
        5s);
    std::vector<pid_t> pids = {master, daemon.keeper()};
    if (child > 0) {
        pids.push_back(child);  // never a 0: kill(0, ...) would signal the whole group
    }
    write_all(report, pids.data(), pids.size() * sizeof(pid_t));
    ::close(report);
    for (;;) {
        ::pause();
    }
}

void killed_mid_test_leaves_nothing(int sig) {
    Pipe report = make_pipe();
    pid_t parent = ::getpid();
    pid_t test = ::fork();
    ASSERT_NE(test, -1);
    if (test == 0) {
        // The stand-in is below no keeper: it dies with this test, however this test ends.
        if (::prctl(PR_SET_PDEATHSIG, SIGKILL) == -1 || ::getppid() != parent) {
            ::_exit(4);
        }
        report.read_end.reset();
        doomed_test(report.write_end.release());
    }
    // A failed assertion returns early: the stand-in must not outlive it, holding the keeper's
    // life pipe and so the daemon (seen once: a stand-in left in pause(), its daemon with it).
    struct Reaper {
        pid_t pid;
        ~Reaper() {
            if (pid > 0) {
                ::kill(pid, SIGKILL);
                ::waitpid(pid, nullptr, 0);
            }
        }
    } stand_in{test};
    report.write_end.reset();
    std::vector<pid_t> pids(8);
    pollfd p{report.read_end.get(), POLLIN, 0};
    ASSERT_EQ(::poll(&p, 1, 10000), 1) << "the stand-in test reported nothing";
    ssize_t n = ::read(report.read_end.get(), pids.data(), pids.size() * sizeof(pid_t));
    pids.resize(n > 0 ? static_cast<std::size_t>(n) / sizeof(pid_t) : 0);
    ASSERT_EQ(pids.size(), 3u) << "expected the daemon, its request's child and the keeper";
    for (pid_t pid : pids) {
        ASSERT_TRUE(alive(pid)) << pid;
    }
    ::kill(test, sig);
    int status = 0;
    ASSERT_EQ(::waitpid(test, &status, 0), test);
    stand_in.pid = 0;  // reaped
    EXPECT_TRUE(eventually(
        [&] {
            for (pid_t pid : pids) {
                if (alive(pid)) {
                    return false;
                }
            }
            return true;
        },
        2s))
        << "a process of the killed test is still running 2 s later";
    for (pid_t pid : pids) {
        if (alive(pid)) {
            ::kill(pid, SIGKILL);
        }
    }
}

TEST(Keeper, SigkillOfTheTestLeavesNoProcessOfItsDaemon) {
    killed_mid_test_leaves_nothing(SIGKILL);
}

TEST(Keeper, AnAbortingTestLeavesNoProcessOfItsDaemon) {
    killed_mid_test_leaves_nothing(SIGABRT);
}

}  // namespace
}  // namespace forklab::test
