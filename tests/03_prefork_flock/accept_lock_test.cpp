/// \file
/// \brief The accept lock on its own (exercise 03's seam), with real processes: each one takes
/// its own lock, the file lives where nobody else can reach it, and a dead holder frees the lock.
///
/// Built twice: with the reference seam (labels ch03;unit) and with the student's (graded).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <fstream>

#include "01_fork_server/signals.hpp"
#include "01_fork_server/spawn.hpp"
#include "accept_lock.hpp"
#include "forklab/fd.hpp"
#include "harness/proc.hpp"
#include "harness/wait.hpp"

namespace forklab::test {
namespace {

namespace fs = std::filesystem;
using ch03::AcceptLock;
using ch03::LockKind;

/// True when \p pid waits for a lock, as /proc/locks shows it ("->").
bool waits_for_a_lock(pid_t pid) {
    auto locks = proc_locks();
    return std::any_of(locks.begin(), locks.end(),
                       [pid](const LockEntry& e) { return e.pid == pid && e.waiting; });
}

/// Waits for \p pid and returns its exit code (-1 when a signal ended it).
int exit_code_of(pid_t pid) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/// A private scratch directory, removed afterwards.
class ScratchDir {
  public:
    ScratchDir() {
        char templ[] = "/tmp/forklab-ch03-unit-XXXXXX";
        path_ = ::mkdtemp(templ) != nullptr ? templ : "";
    }
    ~ScratchDir() {
        if (!path_.empty()) {
            fs::remove_all(path_);
        }
    }
    ScratchDir(const ScratchDir&) = delete;
    ScratchDir& operator=(const ScratchDir&) = delete;
    [[nodiscard]] const std::string& path() const { return path_; }

  private:
    std::string path_;
};

// A lock taken through a descriptor inherited across fork is "held" by every process sharing
// that descriptor: it serializes nothing (flock(2)).
TEST(AcceptLock, EveryWorkerTakesItsOwnFlock) {
    AcceptLock lock = AcceptLock::create(LockKind::flock, "");
    Pipe to_holder = make_pipe();
    Pipe from_children = make_pipe();
    pid_t holder = ch01::spawn([&] {
        lock.open_in_worker();
        if (!lock.acquire()) {
            return 1;
        }
        write_all(from_children.write_end.get(), "A", 1);
        char go = 0;
        (void)::read(to_holder.read_end.get(), &go, 1);  // hold until the test says so
        lock.release();
        return 0;
    });
    char got = 0;
    ASSERT_EQ(::read(from_children.read_end.get(), &got, 1), 1);
    ASSERT_EQ(got, 'A');
    pid_t second = ch01::spawn([&] {
        lock.open_in_worker();
        while (!lock.acquire()) {
        }
        write_all(from_children.write_end.get(), "B", 1);
        lock.release();
        return 0;
    });
    bool waited = eventually([&] { return waits_for_a_lock(second); }, std::chrono::seconds(2));
    write_all(to_holder.write_end.get(), "x", 1);
    EXPECT_TRUE(waited) << "the second worker got the lock while the first held it: a file opened "
                           "once in the master and inherited is one open file description, and "
                           "its flock is held by every worker at once (open it in each worker)";
    ASSERT_EQ(::read(from_children.read_end.get(), &got, 1), 1);
    EXPECT_EQ(got, 'B');
    EXPECT_EQ(exit_code_of(holder), 0);
    EXPECT_EQ(exit_code_of(second), 0);
    lock.remove();
}

TEST(AcceptLock, TheDefaultFileIsInAPrivateDirectoryAndRemoved) {
    AcceptLock lock = AcceptLock::create(LockKind::flock, "");
    fs::path file = lock.path();
    ASSERT_FALSE(file.empty());
    struct stat dir = {};
    ASSERT_EQ(::stat(file.parent_path().c_str(), &dir), 0) << file;
    EXPECT_EQ(octal(dir.st_mode & 0777), "0700")
        << "the lock file's directory is not private: " << file;
    EXPECT_EQ(dir.st_uid, ::getuid());
    struct stat st = {};
    ASSERT_EQ(::lstat(file.c_str(), &st), 0) << file;
    EXPECT_TRUE(S_ISREG(st.st_mode));
    EXPECT_EQ(octal(st.st_mode & 0077), "0000") << "others can open the lock file";
    lock.remove();
    EXPECT_FALSE(fs::exists(file)) << "the lock file outlived the server";
    EXPECT_FALSE(fs::exists(file.parent_path())) << "its directory outlived the server";
}

TEST(AcceptLock, APlantedSymlinkIsNeverFollowed) {
    ScratchDir scratch;
    ASSERT_FALSE(scratch.path().empty());
    std::string victim = scratch.path() + "/victim";
    std::string planted = scratch.path() + "/accept.lock";
    fs::create_symlink(victim, planted);
    EXPECT_THROW(AcceptLock::create(LockKind::flock, planted), std::system_error);
    EXPECT_FALSE(fs::exists(victim)) << "a file was created through the symlink";
    // A lock file swapped for a symlink after the master made it: the worker refuses it too.
    fs::remove(planted);
    AcceptLock lock = AcceptLock::create(LockKind::flock, planted);
    fs::remove(planted);
    fs::create_symlink(victim, planted);
    std::ofstream(victim) << "precious\n";
    pid_t worker = ch01::spawn([&] {
        try {
            lock.open_in_worker();
        } catch (const std::system_error&) {
            return 0;
        }
        return 1;
    });
    EXPECT_EQ(exit_code_of(worker), 0) << "the worker opened its lock through a symlink";
}

// A process-shared mutex whose holder died stays locked for ever, unless it is robust.
TEST(AcceptLock, AMutexHolderThatDiesDoesNotBlockTheOthers) {
    AcceptLock lock = AcceptLock::create(LockKind::mutex, "");
    pid_t holder = ch01::spawn([&] {
        lock.open_in_worker();
        while (!lock.acquire()) {
        }
        return 0;  // dies holding it
    });
    ASSERT_EQ(exit_code_of(holder), 0);
    lock.open_in_worker();
    EXPECT_TRUE(eventually([&] { return lock.acquire(); }, std::chrono::seconds(3)))
        << "the lock died with its holder: the mutex is not robust (PTHREAD_MUTEX_ROBUST, and "
           "pthread_mutex_consistent after EOWNERDEAD)";
    lock.release();
}

// Without SA_RESTART a signal makes a waiting acquire() return false: how a worker waiting for
// the lock notices a stop.
TEST(AcceptLock, ASignalInterruptsTheWait) {
    AcceptLock lock = AcceptLock::create(LockKind::flock, "");
    Pipe to_holder = make_pipe();
    Pipe from_holder = make_pipe();
    pid_t holder = ch01::spawn([&] {
        lock.open_in_worker();
        if (!lock.acquire()) {
            return 1;
        }
        write_all(from_holder.write_end.get(), "A", 1);
        char go = 0;
        (void)::read(to_holder.read_end.get(), &go, 1);
        return 0;
    });
    char got = 0;
    ASSERT_EQ(::read(from_holder.read_end.get(), &got, 1), 1);
    pid_t waiter = ch01::spawn([&] {
        ch01::SignalEvents signals({SIGUSR2}, false);
        lock.open_in_worker();
        return lock.acquire() ? 1 : 0;
    });
    bool waiting = eventually([&] { return waits_for_a_lock(waiter); }, std::chrono::seconds(2));
    if (waiting) {
        ::kill(waiter, SIGUSR2);
    } else {
        write_all(to_holder.write_end.get(), "x", 1);  // let it through: the test fails anyway
    }
    EXPECT_TRUE(waiting) << "the second worker never waited for the lock";
    EXPECT_EQ(exit_code_of(waiter), 0) << "acquire() did not return false after a signal";
    write_all(to_holder.write_end.get(), "x", 1);
    EXPECT_EQ(exit_code_of(holder), 0);
    lock.remove();
}

}  // namespace
}  // namespace forklab::test
