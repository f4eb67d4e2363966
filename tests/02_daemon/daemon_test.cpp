/// \file
/// \brief Chapter 02 judged from the outside: the daemon's place in /proc, the launcher's exit
/// code, the pid file's life, log reopening and stopping.
#include <gtest/gtest.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "harness/http_client.hpp"
#include "harness/points.hpp"
#include "harness/proc.hpp"
#include "harness/server.hpp"
#include "harness/wait.hpp"

namespace forklab::test {
namespace {

namespace fs = std::filesystem;

std::string slurp(const std::string& path) {
    std::ifstream in(path);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

void spit(const std::string& path, const std::string& text) {
    std::ofstream(path) << text;
}

/// Waits for the launcher, which must have exited by itself after the readiness line.
int launcher_exit(const Server& server) {
    int status = 0;
    if (!eventually([&] { return ::waitpid(server.launched_pid(), &status, WNOHANG) != 0; },
                    std::chrono::seconds(5))) {
        return -1;
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/// Children of the test process still running (a refused daemon is handed to us, as our
/// subreaper, once its launcher exits: reap what has ended first).
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

/// A private directory for files a test makes before starting a server.
class DaemonTest : public ::testing::Test {
  protected:
    void SetUp() override {
        std::string templ = (fs::temp_directory_path() / "forklab-ch02-XXXXXX").string();
        ASSERT_NE(::mkdtemp(templ.data()), nullptr);
        dir_ = templ;
    }
    void TearDown() override { fs::remove_all(dir_); }
    std::string dir_;
};

TEST_F(DaemonTest, ServesAfterTheLauncherReportsReady) {
    FORKLAB_POINTS(1);
    Server server({"--pid-file", dir_ + "/pid"});
    ASSERT_TRUE(server.ready());
    EXPECT_NE(server.pid(), server.launched_pid()) << "the daemon is not the launched process";
    EXPECT_EQ(launcher_exit(server), 0);
    EXPECT_EQ(get(server.port(), "/").body, "Hello, world\n");
}

TEST_F(DaemonTest, IsDetachedFromTheLaunchersSessionAndTerminal) {
    FORKLAB_POINTS(3);
    Server server;
    ASSERT_TRUE(server.ready());
    auto stat = proc_stat(server.pid());
    ASSERT_TRUE(stat);
    EXPECT_EQ(stat->tty_nr, 0) << "a controlling terminal";
    EXPECT_NE(stat->session, ::getsid(0)) << "still in the launcher's session: no setsid";
    EXPECT_NE(stat->session, server.pid()) << "a session leader: the second fork is missing";
    EXPECT_NE(stat->pgrp, ::getpgrp());
    EXPECT_EQ(cwd(server.pid()), "/");
    EXPECT_EQ(umask_of(server.pid()), 027);
    for (int fd : {0, 1, 2}) {
        char target[256] = {};
        std::string link = "/proc/" + std::to_string(server.pid()) + "/fd/" + std::to_string(fd);
        ASSERT_GT(::readlink(link.c_str(), target, sizeof target - 1), 0);
        EXPECT_STREQ(target, "/dev/null") << "stdio " << fd;
    }
    // Only the descriptors it needs: stdio, the listener, the log, its signal pipe, the spare.
    EXPECT_LE(fd_count(server.pid()), 8) << "inherited descriptors were not closed";
}

TEST_F(DaemonTest, APortInUseMakesTheLauncherFailWithTheError) {
    FORKLAB_POINTS(3);
    Server first;
    ASSERT_TRUE(first.ready());
    std::string taken = "127.0.0.1:" + std::to_string(first.port());
    RunResult second = run(server_binary(), {"--listen", taken, "--log-file", dir_ + "/log"});
    EXPECT_EQ(second.exit_code, 1);
    EXPECT_NE(second.err.find("bind " + taken + ": Address already in use"), std::string::npos)
        << "stderr: " << second.err;
    EXPECT_EQ(second.out.find("listening"), std::string::npos);
    EXPECT_TRUE(eventually([&] { return live_children() == std::vector<pid_t>{first.pid()}; }))
        << "a daemon was left running";
}

TEST_F(DaemonTest, ASecondStartIsRefusedWhileTheFirstHoldsThePidFile) {
    FORKLAB_POINTS(3);
    std::string pid_file = dir_ + "/pid";
    Server first({"--pid-file", pid_file});
    ASSERT_TRUE(first.ready());
    EXPECT_EQ(slurp(pid_file), std::to_string(first.pid()) + "\n");
    RunResult second = run(server_binary(), {"--listen", "127.0.0.1:0", "--pid-file", pid_file});
    EXPECT_NE(second.exit_code, 0);
    EXPECT_NE(second.err.find("already running, pid " + std::to_string(first.pid())),
              std::string::npos)
        << "stderr: " << second.err;
    EXPECT_EQ(slurp(pid_file), std::to_string(first.pid()) + "\n") << "the pid file was changed";
    EXPECT_TRUE(eventually([&] { return live_children() == std::vector<pid_t>{first.pid()}; }))
        << "the refused daemon is still running";
    EXPECT_EQ(get(first.port(), "/").status, 200);
}

// After a crash the file is still there, unlocked: a daemon must take it over, not refuse.
TEST_F(DaemonTest, AStalePidFileIsTakenOver) {
    FORKLAB_POINTS(3);
    std::string pid_file = dir_ + "/pid";
    spit(pid_file, "999999\n");
    Server server({"--pid-file", pid_file});
    ASSERT_TRUE(server.ready()) << "refused to start over a stale pid file";
    EXPECT_EQ(slurp(pid_file), std::to_string(server.pid()) + "\n");
}

TEST_F(DaemonTest, ThePidFileIsRemovedOnStop) {
    FORKLAB_POINTS(2);
    std::string pid_file = dir_ + "/pid";
    Server server({"--pid-file", pid_file});
    ASSERT_TRUE(server.ready());
    EXPECT_TRUE(fs::exists(pid_file));
    EXPECT_EQ(server.stop(SIGTERM), 0);
    EXPECT_FALSE(fs::exists(pid_file));
}

TEST_F(DaemonTest, APlantedSymlinkIsNotFollowed) {
    FORKLAB_POINTS(3);
    std::string target = dir_ + "/precious";
    spit(target, "do not touch\n");
    std::string pid_file = dir_ + "/pid";
    fs::create_symlink(target, pid_file);
    RunResult r = run(server_binary(), {"--listen", "127.0.0.1:0", "--pid-file", pid_file});
    EXPECT_NE(r.exit_code, 0);
    EXPECT_NE(r.err.find(pid_file), std::string::npos)
        << "the error does not name the file: " << r.err;
    EXPECT_EQ(slurp(target), "do not touch\n");
    EXPECT_TRUE(eventually([&] { return live_children().empty(); }));
}

TEST_F(DaemonTest, Usr1ReopensTheLogAfterRotation) {
    FORKLAB_POINTS(2);
    std::string log = dir_ + "/server.log";
    Server server({"--log-file", log});
    ASSERT_TRUE(server.ready());
    ASSERT_TRUE(eventually([&] { return slurp(log).find("ready") != std::string::npos; }));
    fs::rename(log, log + ".1");
    server.signal(SIGUSR1);
    ASSERT_TRUE(eventually([&] { return slurp(log).find("log reopened") != std::string::npos; }));
    EXPECT_EQ(server.stop(SIGTERM), 0);
    EXPECT_NE(slurp(log).find("stopped"), std::string::npos);
    EXPECT_EQ(slurp(log + ".1").find("stopped"), std::string::npos);
}

TEST_F(DaemonTest, QuitFinishesRequestsInFlight) {
    FORKLAB_POINTS(2);
    Server server;
    ASSERT_TRUE(server.ready());
    std::atomic<int> ok{0};
    std::vector<std::thread> clients;
    for (int i = 0; i < 6; ++i) {
        clients.emplace_back([&] { ok += get(server.port(), "/sleep/400").status == 200; });
    }
    ASSERT_TRUE(eventually([&] { return children_of(server.pid()).size() == 6; }));
    EXPECT_EQ(server.stop(SIGQUIT), 0);
    for (auto& c : clients) {
        c.join();
    }
    EXPECT_EQ(ok, 6);
}

TEST_F(DaemonTest, TermStopsFastEvenWithARequestInFlight) {
    FORKLAB_POINTS(1);
    Server server;
    ASSERT_TRUE(server.ready());
    Fd slow = connect_to(server.port());
    ASSERT_TRUE(send_all(slow.get(), "GET /sleep/20000 HTTP/1.1\r\n\r\n"));
    ASSERT_TRUE(eventually([&] { return children_of(server.pid()).size() == 1; }));
    auto start = std::chrono::steady_clock::now();
    EXPECT_EQ(server.stop(SIGTERM), 0);
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
    EXPECT_TRUE(closed_within(slow.get(), std::chrono::seconds(2)));
}

TEST_F(DaemonTest, AHundredStartsAndStopsLeaveNothingBehind) {
    FORKLAB_POINTS(2);
    std::string pid_file = dir_ + "/pid";
    int fds_before = fd_count(::getpid());
    for (int i = 0; i < 100; ++i) {
        Server server({"--pid-file", pid_file});
        ASSERT_TRUE(server.ready()) << "start " << i;
        ASSERT_EQ(server.stop(SIGTERM), 0) << "stop " << i;
        ASSERT_FALSE(fs::exists(pid_file)) << "after stop " << i;
    }
    EXPECT_TRUE(eventually([&] { return live_children().empty(); }));
    EXPECT_EQ(fd_count(::getpid()), fds_before);
}

TEST_F(DaemonTest, ForegroundStaysAttached) {
    FORKLAB_POINTS(1);
    Server server({"--foreground", "--pid-file", dir_ + "/pid"});
    ASSERT_TRUE(server.ready());
    EXPECT_EQ(server.pid(), server.launched_pid());
    EXPECT_EQ(proc_stat(server.pid())->ppid, ::getpid());
    EXPECT_EQ(get(server.port(), "/").status, 200);
    EXPECT_EQ(slurp(dir_ + "/pid"), std::to_string(server.pid()) + "\n");
}

TEST_F(DaemonTest, UserDropsEveryPrivilegeAfterBinding) {
    FORKLAB_POINTS(1);
    if (::geteuid() != 0) {
        GTEST_SKIP() << "needs root to change user";
    }
    passwd* nobody = ::getpwnam("nobody");
    if (nobody == nullptr) {
        GTEST_SKIP() << "no user nobody here";
    }
    std::string uid = std::to_string(nobody->pw_uid);
    std::string gid = std::to_string(nobody->pw_gid);
    Server server({"--user", "nobody"});
    ASSERT_TRUE(server.ready());
    std::string child = get(server.port(), "/pid").body;  // a child forked after the drop
    ASSERT_FALSE(child.empty());
    for (pid_t pid : {server.pid()}) {
        EXPECT_EQ(status_field(pid, "Uid"), uid + "\t" + uid + "\t" + uid + "\t" + uid);
        EXPECT_EQ(status_field(pid, "Gid"), gid + "\t" + gid + "\t" + gid + "\t" + gid);
        EXPECT_EQ(status_field(pid, "Groups"), "");
    }
}

TEST_F(DaemonTest, BadFlagsGetUsageAndExitTwo) {
    FORKLAB_POINTS(1);
    for (std::vector<std::string> args :
         {std::vector<std::string>{"--pid-file"}, {"--user", ""}, {"--no-such-flag"}}) {
        RunResult r = run(server_binary(), args);
        EXPECT_EQ(r.exit_code, 2) << args[0];
        EXPECT_NE(r.err.find("usage:"), std::string::npos) << args[0];
    }
}

}  // namespace
}  // namespace forklab::test
