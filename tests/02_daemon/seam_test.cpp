/// \file
/// \brief Chapter 02's seam on its own: detach() and its readiness pipe, seen from the launcher's
/// caller, and PidFile, seen on disk and in /proc/locks. Built with each seam (ch02 and ex02).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <system_error>

#include "daemon.hpp"
#include "harness/proc.hpp"
#include "harness/server.hpp"
#include "harness/wait.hpp"

namespace forklab::test {
namespace {

namespace fs = std::filesystem;
using forklab::ch02::AlreadyRunning;
using forklab::ch02::PidFile;
using forklab::ch02::Readiness;

/// What the caller of a launcher saw.
struct Launch {
    int exit_code = -1;  ///< The launcher's exit code (128+signal if killed).
    std::string out;     ///< Its stdout, up to end-of-file.
    std::string err;     ///< Its stderr, up to end-of-file.
    bool eof = false;    ///< Both reached end-of-file within the deadline.
    pid_t daemon = 0;    ///< The daemon's pid, as it wrote it to the test.
};

/// Runs detach() in a child whose stdout and stderr are pipes, as a shell would start a daemon.
/// In the daemon, \p body runs with the readiness and a descriptor that reaches end-of-file when
/// the test lets go of it (after the launcher has exited); the daemon then _exits. Reaps everything
/// before returning.
Launch launch(const std::function<void(Readiness&, int)>& body) {
    Launch result;
    Pipe out = make_pipe();
    Pipe err = make_pipe();
    Pipe hold = make_pipe();  // the daemon waits on its read end until the test lets go
    Pipe tell = make_pipe();  // the daemon writes its pid here
    std::fflush(nullptr);     // nothing of the test's own output may be written by a child
    pid_t launcher = ::fork();
    if (launcher == 0) {
        ::dup2(out.write_end.get(), STDOUT_FILENO);
        ::dup2(err.write_end.get(), STDERR_FILENO);
        try {
            Readiness readiness =
                forklab::ch02::detach({hold.read_end.get(), tell.write_end.get()});
            pid_t self = ::getpid();
            (void)write_all(tell.write_end.get(), &self, sizeof self);
            body(readiness, hold.read_end.get());
        } catch (...) {
        }
        ::_exit(0);  // the daemon (or a launcher that returned by mistake) ends here
    }
    out.write_end.reset();
    err.write_end.reset();
    tell.write_end.reset();
    hold.read_end.reset();
    ChildOutput output(out.read_end.get(), err.read_end.get());
    result.eof = eventually([&] { return output.read_some(10ms); }, 5s, 0ms);
    result.out = std::move(output.out);
    result.err = std::move(output.err);
    int status = 0;
    if (eventually([&] { return ::waitpid(launcher, &status, WNOHANG) == launcher; }, 5s)) {
        result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    } else {
        ::kill(launcher, SIGKILL);
        ::waitpid(launcher, nullptr, 0);
    }
    pollfd p{tell.read_end.get(), POLLIN, 0};
    if (::poll(&p, 1, 2000) > 0 && ::read(tell.read_end.get(), &result.daemon, sizeof(pid_t)) !=
                                       static_cast<ssize_t>(sizeof(pid_t))) {
        result.daemon = 0;
    }
    bool daemon_was_alive = result.daemon > 0 && alive(result.daemon);
    hold.write_end.reset();  // lets the daemon end
    auto gone = [&] {
        while (::waitpid(-1, nullptr, WNOHANG) > 0) {
        }
        return result.daemon <= 0 || !proc_stat(result.daemon);  // ended and reaped
    };
    if (!eventually(gone, 2s)) {
        // It still holds a copy of the other end (a descriptor it should have closed).
        ::kill(result.daemon, SIGKILL);
        eventually(gone, 5s);
    }
    result.eof = result.eof && daemon_was_alive;  // end-of-file came while the daemon still ran
    return result;
}

/// Waits (10 s at most) until the test lets go of the other end.
void wait_for_release(int hold) {
    pollfd p{hold, POLLIN, 0};
    while (::poll(&p, 1, 10000) == -1 && errno == EINTR) {
    }
}

TEST(Detach, TheLauncherExitsZeroWithTheReadinessLineOnceTheDaemonIsReady) {
    Launch l = launch([](Readiness& r, int hold) {
        r.ready("forklab: ready");
        wait_for_release(hold);
    });
    EXPECT_EQ(l.exit_code, 0);
    EXPECT_EQ(l.out, "forklab: ready\n");
    EXPECT_EQ(l.err, "");
    EXPECT_TRUE(l.eof) << "the daemon kept the caller's stdout or stderr open";
}

TEST(Detach, TheLauncherExitsOneWithTheDaemonsError) {
    Launch l = launch([](Readiness& r, int) { r.fail("bind 127.0.0.1:1: Permission denied"); });
    EXPECT_EQ(l.exit_code, 1);
    EXPECT_EQ(l.out, "");
    EXPECT_EQ(l.err, "bind 127.0.0.1:1: Permission denied\n");
}

TEST(Detach, TheLauncherReportsADaemonThatDiesWithoutAWord) {
    Launch l = launch([](Readiness&, int) { ::_exit(3); });
    EXPECT_EQ(l.exit_code, 1);
    EXPECT_EQ(l.out, "");
    EXPECT_NE(l.err.find("exited during start-up"), std::string::npos) << l.err;
}

class PidFileTest : public ::testing::Test {
  protected:
    void SetUp() override {
        std::string templ = (fs::temp_directory_path() / "forklab-ch02-seam-XXXXXX").string();
        ASSERT_NE(::mkdtemp(templ.data()), nullptr);
        dir_ = templ;
        path_ = dir_ + "/daemon.pid";
    }
    void TearDown() override { fs::remove_all(dir_); }
    std::string dir_;
    std::string path_;
};

/// True when some process holds an flock on the file at \p path.
bool locked(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) == -1) {
        return false;
    }
    for (const LockEntry& l : proc_locks()) {
        if (l.kind == "FLOCK" && !l.waiting && l.inode == st.st_ino) {
            return true;
        }
    }
    return false;
}

TEST_F(PidFileTest, HoldsTheLockAndWritesThePidReadableByAll) {
    mode_t old = ::umask(077);
    {
        PidFile file = PidFile::acquire(path_);
        ::umask(old);
        EXPECT_EQ(slurp(path_), std::to_string(::getpid()) + "\n");
        EXPECT_TRUE(locked(path_)) << "no flock on the pid file";
        struct stat st {};
        ASSERT_EQ(::stat(path_.c_str(), &st), 0);
        EXPECT_EQ(octal(st.st_mode & 07777), "0644");
    }
    ::umask(old);
    EXPECT_FALSE(fs::exists(path_)) << "not removed when released";
}

TEST_F(PidFileTest, ASecondAcquireIsRefusedWithTheHoldersPid) {
    PidFile first = PidFile::acquire(path_);
    try {
        PidFile second = PidFile::acquire(path_);
        ADD_FAILURE() << "a second holder was let in";
    } catch (const AlreadyRunning& e) {
        EXPECT_EQ(e.pid(), ::getpid());
        EXPECT_STREQ(e.what(), ("already running, pid " + std::to_string(::getpid())).c_str());
    }
    EXPECT_EQ(slurp(path_), std::to_string(::getpid()) + "\n");
}

TEST_F(PidFileTest, AFileLeftByACrashIsTakenOver) {
    std::fflush(nullptr);
    pid_t holder = ::fork();
    if (holder == 0) {
        try {
            PidFile file = PidFile::acquire(path_);
            ::_exit(0);  // a crash: no destructor removes the file
        } catch (...) {
            ::_exit(1);
        }
    }
    int status = 0;
    ASSERT_EQ(::waitpid(holder, &status, 0), holder);
    ASSERT_EQ(status, 0);
    ASSERT_EQ(slurp(path_), std::to_string(holder) + "\n");
    PidFile file = PidFile::acquire(path_);
    EXPECT_EQ(slurp(path_), std::to_string(::getpid()) + "\n");
}

TEST_F(PidFileTest, AFileNamingALiveProcessThatHoldsNoLockIsTakenOver) {
    std::ofstream(path_) << ::getppid() << "\n";  // alive, but not a daemon holding this file
    PidFile file = PidFile::acquire(path_);
    EXPECT_EQ(slurp(path_), std::to_string(::getpid()) + "\n")
        << "kill(pid, 0) was believed: a live process is not a daemon holding the lock";
}

TEST_F(PidFileTest, ASymlinkIsRefusedAndItsTargetUntouched) {
    std::string target = dir_ + "/precious";
    std::ofstream(target) << "do not touch\n";
    std::string absent = dir_ + "/not-to-be-created";
    std::string dangling = dir_ + "/dangling.pid";
    fs::create_symlink(target, path_);
    fs::create_symlink(absent, dangling);
    for (const std::string& link : {path_, dangling}) {
        try {
            PidFile file = PidFile::acquire(link);
            ADD_FAILURE() << "the symlink was followed: " << link;
        } catch (const std::exception& e) {
            EXPECT_NE(std::string(e.what()).find(link), std::string::npos) << e.what();
        }
        EXPECT_TRUE(fs::is_symlink(link));
    }
    EXPECT_EQ(slurp(target), "do not touch\n");
    EXPECT_FALSE(fs::exists(absent)) << "a file was created where the symlink pointed";
}

}  // namespace
}  // namespace forklab::test
