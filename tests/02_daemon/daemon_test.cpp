/// \file
/// \brief Chapter 02 judged from the outside: the daemon's place in /proc, the launcher's exit
/// code and messages, the pid file's life, privileges, log reopening and stopping.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>
#include <vector>

#include "harness/http_client.hpp"
#include "harness/kept.hpp"
#include "harness/proc.hpp"
#include "harness/server.hpp"
#include "harness/wait.hpp"

namespace forklab::test {
namespace {

namespace fs = std::filesystem;

void spit(const std::string& path, const std::string& text) {
    std::ofstream(path) << text;
}

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

/// Waits for the launcher, which must have exited by itself after the readiness line.
int launcher_exit(Server& server) {
    return server.exit_of(server.launched_pid(), 5s).value_or(-1);
}

/// Children of the test process still running (a daemon is handed to us, as our subreaper, once
/// its launcher and the intermediate process are gone: reap what has ended first).
std::vector<pid_t> live_children() {
    while (::waitpid(-1, nullptr, WNOHANG) > 0) {
    }
    std::vector<pid_t> live;
    for (const ProcStat& p : children_of(::getpid())) {
        if (p.state != 'Z') {
            live.push_back(p.pid);
        }
    }
    return live;
}

/// A pid that no process has: a child that has exited and been reaped.
pid_t dead_pid() {
    pid_t pid = ::fork();
    if (pid == 0) {
        ::_exit(0);
    }
    ::waitpid(pid, nullptr, 0);
    return pid;
}

/// Each test gets a private directory for its pid file and log; every server logs there, so the
/// harness sees crash lines a daemon (whose stderr is /dev/null) would otherwise hide.
class DaemonTest : public ::testing::Test {
  protected:
    void SetUp() override {
        std::string templ = (fs::temp_directory_path() / "forklab-ch02-XXXXXX").string();
        ASSERT_NE(::mkdtemp(templ.data()), nullptr);
        dir_ = templ;
        log_ = dir_ + "/daemon.log";
        pid_file_ = dir_ + "/daemon.pid";
    }
    // A server the harness did not start (run() of a daemon that should have been refused) must
    // not outlive the test, nor hold the grader's output pipe open.
    void TearDown() override {
        if (!eventually([] { return live_children().empty(); }, 2s)) {
            std::vector<pid_t> left = live_children();
            for (pid_t pid : left) {
                ::kill(pid, SIGKILL);
            }
            ADD_FAILURE() << left.size() << " process(es) left running, now killed";
            eventually([] { return live_children().empty(); }, 5s);
        }
        fs::remove_all(dir_);
    }

    /// \p args plus `--log-file` in the test's directory.
    [[nodiscard]] std::vector<std::string> logged(std::vector<std::string> args) const {
        args.insert(args.end(), {"--log-file", log_});
        return args;
    }

    std::string dir_;
    std::string log_;
    std::string pid_file_;
};

TEST_F(DaemonTest, ServesAfterTheLauncherReportsReady) {
    Server server(logged({"--pid-file", pid_file_}));
    ASSERT_TRUE(server.ready());
    EXPECT_NE(server.pid(), server.launched_pid()) << "the daemon is the launched process";
    EXPECT_EQ(launcher_exit(server), 0);
    EXPECT_EQ(get(server.port(), "/").body, "Hello, world\n");
}

TEST_F(DaemonTest, IsDetachedFromTheLaunchersSessionAndTerminal) {
    Server server(logged({}));
    ASSERT_TRUE(server.ready());
    auto stat = proc_stat(server.pid());
    ASSERT_TRUE(stat);
    EXPECT_EQ(stat->tty_nr, 0) << "a controlling terminal";
    EXPECT_NE(stat->session, ::getsid(0)) << "still in the launcher's session: no setsid";
    EXPECT_NE(stat->session, server.pid()) << "a session leader: the second fork is missing";
    EXPECT_NE(stat->pgrp, ::getpgrp()) << "still in the launcher's process group";
    EXPECT_EQ(cwd(server.pid()), "/") << "the daemon pins its start directory";
    EXPECT_EQ(octal(umask_of(server.pid())), "0027")
        << "the daemon keeps umask(0): every file it creates is writable by all";
    for (int fd : {0, 1, 2}) {
        char target[256] = {};
        std::string link = "/proc/" + std::to_string(server.pid()) + "/fd/" + std::to_string(fd);
        ASSERT_GT(::readlink(link.c_str(), target, sizeof target - 1), 0);
        EXPECT_STREQ(target, "/dev/null") << "stdio " << fd << " was not sent to /dev/null";
    }
}

// A daemon started by nohup, or as a script's background job, or by a program that blocks
// signals, inherits that state through exec: TERM must still stop it.
TEST_F(DaemonTest, InheritsNoSignalStateFromItsCaller) {
    sigset_t blocked;
    sigset_t previous;
    sigemptyset(&blocked);
    sigaddset(&blocked, SIGTERM);
    sigaddset(&blocked, SIGUSR1);
    ASSERT_EQ(::sigprocmask(SIG_BLOCK, &blocked, &previous), 0);
    auto hup = ::signal(SIGHUP, SIG_IGN);
    Server server(logged({}));
    ::signal(SIGHUP, hup);
    ::sigprocmask(SIG_SETMASK, &previous, nullptr);
    ASSERT_TRUE(server.ready());
    // By name, glibc's internal 32 and 33 aside (a posix_spawn caller such as ninja leaves them
    // ignored, and no program can change them through glibc).
    EXPECT_EQ(signal_names(status_field(server.pid(), "SigBlk")), "none")
        << "signals still blocked: the daemon keeps the mask its caller had";
    EXPECT_EQ(signal_names(status_field(server.pid(), "SigIgn")), "PIPE")
        << "signals still ignored besides SIGPIPE: the daemon keeps what its caller ignored";
    EXPECT_EQ(server.stop(SIGTERM, 3s), 0);
}

TEST_F(DaemonTest, ClosesTheDescriptorsItInherited) {
    std::string marker = dir_ + "/inherited";
    int fd = ::open(marker.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    ASSERT_GE(fd, 0);
    Server server(logged({}), server_binary(), {fd});  // the daemon inherits it as fd 3
    ::close(fd);
    ASSERT_TRUE(server.ready());
    auto targets = fd_targets(server.pid());
    EXPECT_EQ(std::count(targets.begin(), targets.end(), marker), 0)
        << "the daemon still holds a descriptor its launcher inherited";
}

// `pid=$(ch02_daemon ...)` in a script returns only when every holder of the script's pipe is
// gone: the launcher exits, and the daemon must have let go of the stdio it inherited.
TEST_F(DaemonTest, TheCallerSeesEndOfFileOnceTheLauncherExits) {
    Pipe out = make_pipe();
    Pipe err = make_pipe();
    Fd devnull(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    Kept launcher(server_binary(), {"--listen", "127.0.0.1:0", "--log-file", log_}, devnull.get(),
                  out.write_end.get(), err.write_end.get());
    out.write_end.reset();
    err.write_end.reset();
    ChildOutput output(out.read_end.get(), err.read_end.get());
    bool ended = eventually([&] { return output.read_some(10ms); }, 5s, 0ms);
    std::string text = output.out + output.err;
    EXPECT_TRUE(launcher.wait_for(launcher.launched(), 10s)) << "the launcher did not exit";
    std::smatch m;
    ASSERT_TRUE(std::regex_search(text, m, std::regex(R"(listening on \S+ pid (\d+))"))) << text;
    pid_t daemon = static_cast<pid_t>(std::stol(m[1]));
    EXPECT_TRUE(ended) << "the caller's stdout or stderr is still held open";
    EXPECT_TRUE(alive(daemon));
    ::kill(daemon, SIGTERM);
    EXPECT_TRUE(eventually([&] { return launcher.processes().empty(); }));
}

// The source material sent stdio to /dev/null before binding: "address in use" vanished and the
// launcher said nothing was wrong.
TEST_F(DaemonTest, APortInUseMakesTheLauncherFailWithTheError) {
    Server first(logged({}));
    ASSERT_TRUE(first.ready());
    std::string taken = "127.0.0.1:" + std::to_string(first.port());
    RunResult second = run(server_binary(), {"--listen", taken, "--log-file", dir_ + "/second"});
    EXPECT_EQ(second.exit_code, 1);
    EXPECT_TRUE(contains(second.err, "bind " + taken + ": Address already in use"))
        << "stderr: " << second.err;
    EXPECT_FALSE(contains(second.out, "listening"));
    EXPECT_EQ(second.left_running, std::vector<pid_t>{}) << "a daemon was left running";
}

TEST_F(DaemonTest, AFailureAfterBindingReachesTheLauncher) {
    // Not root: "only root can change user"; root: "no such user". Either comes after the bind.
    RunResult r = run(server_binary(), {"--listen", "127.0.0.1:0", "--pid-file", pid_file_,
                                        "--user", "forklab-no-such-user"});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_TRUE(contains(r.err, "--user forklab-no-such-user: ")) << "stderr: " << r.err;
    EXPECT_FALSE(contains(r.out, "listening"));
    EXPECT_EQ(r.left_running, std::vector<pid_t>{}) << "a daemon was left running";
    EXPECT_FALSE(fs::exists(pid_file_)) << "the failed daemon left its pid file";
}

TEST_F(DaemonTest, ASecondStartIsRefusedWhileTheFirstHoldsThePidFile) {
    Server first(logged({"--pid-file", pid_file_}));
    ASSERT_TRUE(first.ready());
    EXPECT_EQ(slurp(pid_file_), std::to_string(first.pid()) + "\n");
    // Same port too: the pid file is checked first, so the error names the running daemon.
    std::string same = "127.0.0.1:" + std::to_string(first.port());
    RunResult second = run(server_binary(), {"--listen", same, "--pid-file", pid_file_});
    EXPECT_EQ(second.exit_code, 1);
    EXPECT_TRUE(contains(second.err, "already running, pid " + std::to_string(first.pid())))
        << "stderr: " << second.err;
    EXPECT_EQ(slurp(pid_file_), std::to_string(first.pid()) + "\n") << "the pid file changed";
    EXPECT_EQ(second.left_running, std::vector<pid_t>{}) << "the refused daemon is still running";
    EXPECT_EQ(get(first.port(), "/").status, 200);
}

// After a crash the file is still there, unlocked: a daemon must take it over, not refuse.
TEST_F(DaemonTest, AStalePidFileIsTakenOver) {
    spit(pid_file_, std::to_string(dead_pid()) + "\n");
    Server server(logged({"--pid-file", pid_file_}));
    ASSERT_TRUE(server.ready()) << "refused to start over a stale pid file";
    EXPECT_EQ(slurp(pid_file_), std::to_string(server.pid()) + "\n");
}

// The pid in a stale file may belong to another process by now: "kill(pid, 0) succeeds" does not
// mean "the daemon runs".
TEST_F(DaemonTest, AStalePidFileNamingALiveProcessIsTakenOver) {
    spit(pid_file_, std::to_string(::getpid()) + "\n");  // alive, and holds no lock
    Server server(logged({"--pid-file", pid_file_}));
    ASSERT_TRUE(server.ready()) << "a recycled pid was taken for a running daemon: kill(pid, 0) "
                                   "says a process lives, not that it holds the pid file's lock";
    EXPECT_EQ(slurp(pid_file_), std::to_string(server.pid()) + "\n");
}

TEST_F(DaemonTest, ThePidFileIsReadableAndRemovedOnStop) {
    Server server(logged({"--pid-file", pid_file_}));
    ASSERT_TRUE(server.ready());
    struct stat st {};
    ASSERT_EQ(::stat(pid_file_.c_str(), &st), 0);
    EXPECT_EQ(octal(st.st_mode & 07777), "0644");
    EXPECT_EQ(server.stop(SIGTERM), 0);
    EXPECT_FALSE(fs::exists(pid_file_));
}

TEST_F(DaemonTest, APlantedSymlinkIsNotFollowed) {
    std::string target = dir_ + "/precious";
    spit(target, "do not touch\n");
    std::string absent = dir_ + "/not-to-be-created";
    std::string dangling = dir_ + "/dangling.pid";
    fs::create_symlink(target, pid_file_);
    fs::create_symlink(absent, dangling);
    for (const std::string& link : {pid_file_, dangling}) {
        RunResult r = run(server_binary(), {"--listen", "127.0.0.1:0", "--pid-file", link});
        EXPECT_EQ(r.exit_code, 1) << link;
        EXPECT_TRUE(contains(r.err, link)) << "the error does not name the file: " << r.err;
        EXPECT_TRUE(fs::is_symlink(link));
        EXPECT_TRUE(eventually([&] { return live_children().empty(); }));
    }
    EXPECT_EQ(slurp(target), "do not touch\n");
    EXPECT_FALSE(fs::exists(absent)) << "a file was created where the symlink pointed";
}

TEST_F(DaemonTest, Usr1ReopensTheLogAfterRotation) {
    Server server(logged({}));
    ASSERT_TRUE(server.ready());
    ASSERT_TRUE(eventually([&] { return contains(slurp(log_), "ready"); }));
    fs::rename(log_, log_ + ".1");
    server.signal(SIGUSR1);
    ASSERT_TRUE(eventually([&] { return contains(slurp(log_), "log reopened"); }));
    EXPECT_EQ(get(server.port(), "/").status, 200);
    EXPECT_EQ(server.stop(SIGTERM), 0);
    EXPECT_TRUE(contains(slurp(log_), "stopped"));
    EXPECT_FALSE(contains(slurp(log_ + ".1"), "stopped"));
}

TEST_F(DaemonTest, QuitFinishesRequestsInFlight) {
    Server server(logged({}));
    ASSERT_TRUE(server.ready());
    std::atomic<int> ok{0};
    std::vector<std::jthread> clients;
    for (int i = 0; i < 6; ++i) {
        clients.emplace_back([&] { ok += get(server.port(), "/sleep/300").status == 200; });
    }
    bool busy = eventually([&] { return children_of(server.pid()).size() == 6; });
    EXPECT_TRUE(busy);
    EXPECT_EQ(server.stop(SIGQUIT), 0);
    for (auto& c : clients) {
        c.join();
    }
    EXPECT_EQ(ok, 6);
}

TEST_F(DaemonTest, TermStopsFastEvenWithARequestInFlight) {
    Server server(logged({}));
    ASSERT_TRUE(server.ready());
    Fd slow = connect_to(server.port());
    ASSERT_TRUE(send_all(slow.get(), "GET /sleep/20000 HTTP/1.1\r\n\r\n"));
    ASSERT_TRUE(eventually([&] { return children_of(server.pid()).size() == 1; }));
    auto start = std::chrono::steady_clock::now();
    EXPECT_EQ(server.stop(SIGTERM), 0);
    EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
    EXPECT_TRUE(closed_within(slow.get(), 2s));
}

TEST_F(DaemonTest, AHundredStartsAndStopsLeaveNothingBehind) {
    int fds_before = fd_count(::getpid());
    for (int i = 0; i < 100; ++i) {
        Server server(logged({"--pid-file", pid_file_}));
        ASSERT_TRUE(server.ready()) << "start " << i;
        ASSERT_EQ(server.stop(i % 10 == 9 ? SIGQUIT : SIGTERM), 0) << "stop " << i;
        ASSERT_FALSE(fs::exists(pid_file_)) << "after stop " << i;
    }
    EXPECT_TRUE(eventually([&] { return live_children().empty(); }));
    EXPECT_EQ(fd_count(::getpid()), fds_before);
    std::vector<std::string> left;
    for (const auto& entry : fs::directory_iterator(dir_)) {
        left.push_back(entry.path().filename());
    }
    EXPECT_EQ(left, std::vector<std::string>{"daemon.log"});
}

TEST_F(DaemonTest, ForegroundStaysAttached) {
    Server server(logged({"--foreground", "--pid-file", pid_file_}));
    ASSERT_TRUE(server.ready());
    EXPECT_EQ(server.pid(), server.launched_pid());
    EXPECT_EQ(proc_stat(server.pid())->ppid, server.keeper_pid());
    EXPECT_EQ(proc_stat(server.pid())->session, ::getsid(0));
    EXPECT_EQ(get(server.port(), "/").status, 200);
    EXPECT_EQ(slurp(pid_file_), std::to_string(server.pid()) + "\n");
    EXPECT_EQ(server.stop(SIGTERM), 0);
    EXPECT_FALSE(fs::exists(pid_file_));
}

/// The owner (uid) of the socket listening on \p port, from /proc/net/tcp, or -1.
long listener_uid(int port) {
    std::ifstream in("/proc/net/tcp");
    std::string line;
    std::getline(in, line);  // the header
    while (std::getline(in, line)) {
        std::istringstream fields(line);
        std::string slot, local, remote, state, queues, timer, retransmits;
        long uid = -1;
        fields >> slot >> local >> remote >> state >> queues >> timer >> retransmits >> uid;
        std::size_t colon = local.find(':');
        if (state == "0A" && colon != std::string::npos &&
            std::stoi(local.substr(colon + 1), nullptr, 16) == port) {
            return uid;
        }
    }
    return -1;
}

TEST_F(DaemonTest, UserDropsEveryPrivilegeAfterBinding) {
    if (::geteuid() != 0) {
        GTEST_SKIP() << "needs root to change user (run the tests as root to check --user)";
    }
    passwd* nobody = ::getpwnam("nobody");
    if (nobody == nullptr) {
        GTEST_SKIP() << "no user nobody here";
    }
    std::string uid = std::to_string(nobody->pw_uid);
    std::string gid = std::to_string(nobody->pw_gid);
    Server server(logged({"--user", "nobody", "--pid-file", pid_file_}));
    ASSERT_TRUE(server.ready());
    EXPECT_EQ(listener_uid(server.port()), 0) << "the socket was not bound before the drop";
    Fd slow = connect_to(server.port());
    ASSERT_TRUE(send_all(slow.get(), "GET /sleep/20000 HTTP/1.1\r\n\r\n"));
    ASSERT_TRUE(eventually([&] { return children_of(server.pid()).size() == 1; }));
    pid_t child = children_of(server.pid()).front().pid;
    for (pid_t pid : {server.pid(), child}) {
        EXPECT_EQ(status_field(pid, "Uid"), uid + "\t" + uid + "\t" + uid + "\t" + uid) << pid;
        EXPECT_EQ(status_field(pid, "Gid"), gid + "\t" + gid + "\t" + gid + "\t" + gid) << pid;
        EXPECT_EQ(status_field(pid, "Groups"), "") << pid;
    }
    EXPECT_EQ(server.stop(SIGTERM), 0);
    // The private directory does not let nobody remove the file: it is emptied, and unlocked.
    EXPECT_TRUE(!fs::exists(pid_file_) || slurp(pid_file_).empty());
    Server again(logged({"--pid-file", pid_file_}));
    EXPECT_TRUE(again.ready()) << "the pid file left by a dropped daemon blocks the next start";
}

TEST_F(DaemonTest, BadFlagsGetUsageAndExitTwo) {
    for (std::vector<std::string> args :
         {std::vector<std::string>{"--pid-file"}, {"--user", ""}, {"--no-such-flag"}}) {
        RunResult r = run(server_binary(), args);
        EXPECT_EQ(r.exit_code, 2) << args[0];
        EXPECT_TRUE(contains(r.err, "usage:")) << args[0];
    }
}

}  // namespace
}  // namespace forklab::test
