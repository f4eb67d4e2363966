/// \file
/// \brief Chapter 07's seam on its own: take_listener() and ExecPlan, each run in a child whose
/// descriptor 3 and environment the test arranges.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <sstream>
#include <string>

#include "forklab/fd.hpp"
#include "forklab/net.hpp"
#include "harness/server.hpp"
#include "listen_fds.hpp"

namespace forklab::test {
namespace {

/// Runs \p body in a child (its return value is the exit code) and returns the exit code.
template <typename Body>
int in_child(Body body) {
    pid_t pid = ::fork();
    if (pid == 0) {
        int code = 99;
        try {
            code = body();
        } catch (const std::exception&) {
            code = 98;  // take_listener threw
        }
        ::_exit(code);
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/// In the child: \p fd at descriptor 3 and the two variables set (LISTEN_PID to \p pid).
void pass_as_3(int fd, pid_t pid) {
    ::dup2(fd, 3);
    ::setenv("LISTEN_FDS", "1", 1);
    ::setenv("LISTEN_PID", std::to_string(pid).c_str(), 1);
}

bool variables_gone() {
    return std::getenv("LISTEN_PID") == nullptr && std::getenv("LISTEN_FDS") == nullptr;
}

TEST(TakeListener, TakesAListeningSocketPassedToThisProcess) {
    Fd listener = listen_on({"127.0.0.1", 0});
    EXPECT_EQ(in_child([&] {
                  pass_as_3(listener.get(), ::getpid());
                  std::optional<Fd> fd = ch07::take_listener();
                  if (!fd || fd->get() != 3) {
                      return 1;
                  }
                  if ((::fcntl(3, F_GETFD) & FD_CLOEXEC) == 0) {
                      return 2;  // it would leak into the next exec
                  }
                  return variables_gone() ? 0 : 3;
              }),
              0)
        << "1: not taken, 2: not close-on-exec again, 3: LISTEN_* left set";
}

TEST(TakeListener, IgnoresVariablesMeantForAnotherProcess) {
    Fd listener = listen_on({"127.0.0.1", 0});
    EXPECT_EQ(in_child([&] {
                  pass_as_3(listener.get(), ::getppid());  // inherited from a parent
                  if (ch07::take_listener()) {
                      return 1;
                  }
                  return variables_gone() ? 0 : 3;
              }),
              0)
        << "1: took a socket that LISTEN_PID says is not ours, 3: LISTEN_* left set";
}

TEST(TakeListener, NothingPassedIsNothing) {
    EXPECT_EQ(in_child([] {
                  ::unsetenv("LISTEN_PID");
                  ::unsetenv("LISTEN_FDS");
                  return ch07::take_listener() ? 1 : 0;
              }),
              0);
}

TEST(TakeListener, RefusesADescriptorThatIsNoListeningStreamSocket) {
    Fd datagram(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    Fd unlistened(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    Pipe pipe = make_pipe();
    for (int fd : {datagram.get(), unlistened.get(), pipe.read_end.get()}) {
        EXPECT_EQ(in_child([&] {
                      pass_as_3(fd, ::getpid());
                      return ch07::take_listener() ? 1 : 0;
                  }),
                  98)
            << "descriptor " << fd << " was accepted as a listener";
    }
}

/// ExecPlan::exec in a child, with the listener already at \p listener_at (3: the dup2 trap);
/// the exec'd shell prints LISTEN_PID, its own pid, LISTEN_FDS, what 3 and 4 are, and whether a
/// close-on-exec descriptor of the test crossed.
std::string exec_and_report(int listener_at) {
    Fd listener = listen_on({"127.0.0.1", 0});
    Pipe keep = make_pipe();
    Pipe out = make_pipe();
    Fd marker(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    std::string script =
        "echo \"$LISTEN_PID $$ $LISTEN_FDS $X\"; "
        "readlink /proc/$$/fd/3 /proc/$$/fd/4 | cut -c1-5; "
        "[ -e /proc/$$/fd/" +
        std::to_string(marker.get()) + " ] && echo leaked; exit 0";
    ch07::ExecPlan plan("/bin/sh", {"sh", "-c", script}, {"X=extra"});
    pid_t pid = ::fork();
    if (pid == 0) {
        ::dup2(out.write_end.get(), STDOUT_FILENO);
        int l = listener.get();
        if (listener_at >= 0) {
            ::dup2(listener.get(), listener_at);
            ::fcntl(listener_at, F_SETFD, FD_CLOEXEC);  // as a taken-over listener is
            l = listener_at;
        }
        plan.exec(l, keep.write_end.get());
        ::_exit(127);
    }
    out.write_end.reset();
    std::string text;
    char buf[256];
    for (ssize_t n; (n = ::read(out.read_end.get(), buf, sizeof buf)) > 0;) {
        text.append(buf, static_cast<std::size_t>(n));
    }
    ::waitpid(pid, nullptr, 0);
    return text;
}

TEST(ExecPlan, PassesTheListenerAs3AndTheReadinessPipeAs4) {
    std::string text = exec_and_report(-1);
    std::istringstream in(text);
    std::string listen_pid, own_pid, fds, extra;
    in >> listen_pid >> own_pid >> fds >> extra;
    EXPECT_EQ(listen_pid, own_pid) << text;
    EXPECT_EQ(fds, "1") << text;
    EXPECT_EQ(extra, "extra") << text;
    EXPECT_NE(text.find("socke\npipe:"), std::string::npos) << text;
    EXPECT_EQ(text.find("leaked"), std::string::npos) << text;
}

TEST(ExecPlan, AListenerAlreadyAt3StillCrossesExec) {
    // The second upgrade in a row: the listener was taken over as 3 and is close-on-exec.
    std::string text = exec_and_report(3);
    EXPECT_NE(text.find("socke\npipe:"), std::string::npos)
        << "descriptor 3 did not survive exec (dup2(3, 3) leaves close-on-exec set):\n"
        << text;
}

}  // namespace
}  // namespace forklab::test
