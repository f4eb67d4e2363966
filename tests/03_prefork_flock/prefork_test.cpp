/// \file
/// \brief Chapter 03 judged from the outside: the pool in /proc, the lock in /proc/locks, the
/// scoreboard in /status, and what clients see while workers die, recycle and restart.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

#include "forklab/net.hpp"
#include "harness/http_client.hpp"
#include "harness/proc.hpp"
#include "harness/server.hpp"
#include "harness/temp_dir.hpp"
#include "harness/wait.hpp"
#include "load_engine.hpp"

namespace forklab::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

bool has_workers(pid_t master, std::size_t n) {
    return live_children(master).size() == n;
}

/// FLOCK/POSIX entries of /proc/locks that belong to \p pids: holders and waiters.
struct LockView {
    std::vector<pid_t> holders;
    std::vector<pid_t> waiters;
};
LockView locks_of(const std::vector<pid_t>& pids) {
    LockView v;
    for (const LockEntry& e : proc_locks()) {
        if (std::find(pids.begin(), pids.end(), e.pid) == pids.end()) {
            continue;
        }
        (e.waiting ? v.waiters : v.holders).push_back(e.pid);
    }
    return v;
}

load::LoadResult load(const Server& s, int concurrency, long requests,
                      const std::string& path = "/", long duration_ms = 0) {
    load::LoadConfig c;
    c.target = {"127.0.0.1", static_cast<std::uint16_t>(s.port())};
    c.concurrency = concurrency;
    c.requests = requests;
    c.duration_ms = duration_ms;
    c.path = path;
    return load::run_load(c);
}

std::string errors_of(const load::LoadResult& r) {
    std::string s;
    for (const auto& [kind, n] : r.errors) {
        s += kind + "=" + std::to_string(n) + " ";
    }
    return s;
}

std::size_t count_of(const std::string& text, const std::string& what) {
    std::size_t n = 0;
    for (std::size_t p = text.find(what); p != std::string::npos; p = text.find(what, p + 1)) {
        ++n;
    }
    return n;
}

/// The lock file a worker has open ("" if none).
std::string lock_file_of(pid_t worker) {
    for (const std::string& target : fd_targets(worker)) {
        if (target.find(".lock") != std::string::npos) {
            return target;
        }
    }
    return "";
}

/// Removes the lock file a SIGKILLed master left behind, and its directory if that is a private
/// (mode 0700) one left empty: rmdir, never a recursive removal, whatever the server under test
/// chose as its lock file.
void remove_orphaned_lock(const std::string& lock_file) {
    fs::path file(lock_file);
    if (!file.is_absolute()) {
        return;
    }
    ::unlink(file.c_str());
    struct stat dir = {};
    if (::lstat(file.parent_path().c_str(), &dir) == 0 && S_ISDIR(dir.st_mode) &&
        (dir.st_mode & 07777) == 0700) {
        ::rmdir(file.parent_path().c_str());  // fails unless empty
    }
}

/// Workers of \p master sleeping in a /sleep request (their kernel wait channel says so).
int sleeping_workers(pid_t master) {
    int n = 0;
    for (pid_t w : live_children(master)) {
        n += wchan(w).find("nanosleep") != std::string::npos ? 1 : 0;
    }
    return n;
}

/// A worker sleeping in a /sleep request (its kernel wait channel says so).
pid_t sleeping_worker(pid_t master) {
    for (pid_t w : live_children(master)) {
        if (wchan(w).find("nanosleep") != std::string::npos) {
            return w;
        }
    }
    return 0;
}

TEST(Prefork, ThePoolSizeHolds) {
    Server server({"--workers", "4"});
    ASSERT_TRUE(server.ready());
    ASSERT_TRUE(eventually([&] { return has_workers(server.pid(), 4); }));
    auto before = live_children(server.pid());
    auto r = load(server, 8, 400);
    EXPECT_EQ(r.ok, 400) << errors_of(r);
    EXPECT_EQ(live_children(server.pid()), before) << "workers were replaced without a reason";
}

TEST(Prefork, SixtyFourClientsTimesFiftyAllCorrect) {
    Server server;
    ASSERT_TRUE(server.ready());
    auto r = load(server, 64, 64L * 50);
    EXPECT_EQ(r.ok, 64 * 50) << errors_of(r);
    EXPECT_EQ(r.error_count(), 0) << errors_of(r);
    auto bytes = load(server, 16, 200, "/bytes/4000");
    EXPECT_EQ(bytes.ok, 200) << errors_of(bytes);
}

// The lock serializes: at idle, one worker holds it (and waits in accept), the others wait for it.
TEST(Prefork, AtIdleOneWorkerHoldsTheLockAndTheOthersWait) {
    Server server({"--workers", "4"});
    ASSERT_TRUE(server.ready());
    ASSERT_EQ(get(server.port(), "/").status, 200);
    LockView v;
    bool settled = eventually(
        [&] {
            v = locks_of(live_children(server.pid()));
            return v.holders.size() == 1 && v.waiters.size() == 3;
        },
        3s);
    EXPECT_TRUE(settled) << "holders " << v.holders.size() << ", waiters " << v.waiters.size()
                         << ": a lock taken through a descriptor shared by every worker "
                            "serializes nothing";
}

TEST(Prefork, KillingABusyWorkerClosesOnlyItsClient) {
    Server server({"--workers", "4"});
    ASSERT_TRUE(server.ready());
    server.allow_crashes();
    ASSERT_TRUE(eventually([&] { return has_workers(server.pid(), 4); }));
    Fd victim_client = connect_to(server.port());
    ASSERT_TRUE(send_all(victim_client.get(), "GET /sleep/3000 HTTP/1.1\r\n\r\n"));
    pid_t victim = 0;
    ASSERT_TRUE(eventually([&] { return (victim = sleeping_worker(server.pid())) != 0; }));
    // Another client's request stays in flight until the test releases it: a reply far larger
    // than the socket buffers, which its worker can finish only once the test reads it. Its
    // first bytes say a worker took it; not the victim, which is busy sleeping.
    Fd other = connect_to(server.port());
    ASSERT_TRUE(send_all(other.get(), "GET /bytes/16000000 HTTP/1.1\r\n\r\n"));
    pollfd started{other.get(), POLLIN, 0};
    ASSERT_EQ(::poll(&started, 1, 10000), 1) << "no worker took the second connection";
    ::kill(victim, SIGKILL);
    EXPECT_TRUE(closed_within(victim_client.get(), 2s)) << "the victim's client was not closed";
    HttpReply reply = read_reply(other.get(), 20s);
    EXPECT_EQ(reply.status, 200) << "another worker's client was hurt";
    EXPECT_EQ(reply.body.size(), 16000000u) << "another worker's reply was cut";
    EXPECT_TRUE(eventually([&] { return has_workers(server.pid(), 4); }, 3s));
    EXPECT_EQ(get(server.port(), "/").status, 200);
}

TEST(Prefork, KillingTheLockHolderTwentyTimesKeepsTheServerAccepting) {
    Server server({"--workers", "3"});
    ASSERT_TRUE(server.ready());
    server.allow_crashes();
    for (int round = 0; round < 20; ++round) {
        pid_t holder = 0;
        ASSERT_TRUE(eventually([&] {
            auto v = locks_of(live_children(server.pid()));
            holder = v.holders.empty() ? 0 : v.holders.front();
            return holder != 0 && has_workers(server.pid(), 3);
        })) << "round "
            << round << ": no worker holds the lock";
        ::kill(holder, SIGKILL);
        HttpReply r = get(server.port(), "/", 5s);
        ASSERT_EQ(r.status, 200) << "round " << round << ": " << r.error;
    }
    EXPECT_EQ(server.stop(SIGTERM), 0);
}

TEST(Prefork, KillingTheMasterEndsEveryWorkerAndFreesThePort) {
    Server server({"--workers", "4"});
    ASSERT_TRUE(server.ready());
    server.allow_crashes();
    ASSERT_TRUE(eventually([&] { return has_workers(server.pid(), 4); }));
    auto pool = live_children(server.pid());
    std::string lock_file;
    ASSERT_TRUE(eventually([&] { return !(lock_file = lock_file_of(pool.front())).empty(); }));
    ::kill(server.pid(), SIGKILL);
    auto start = std::chrono::steady_clock::now();
    EXPECT_TRUE(eventually(
        [&] { return std::none_of(pool.begin(), pool.end(), [](pid_t w) { return alive(w); }); },
        1s))
        << "workers outlived their master";
    EXPECT_LT(std::chrono::steady_clock::now() - start, 1500ms);
    EXPECT_TRUE(eventually([&] {
        try {
            listen_on({"127.0.0.1", static_cast<std::uint16_t>(server.port())});
            return true;
        } catch (const std::system_error&) {
            return false;
        }
    })) << "the port is still held";
    remove_orphaned_lock(lock_file);  // a SIGKILLed master cannot clean up
}

TEST(Prefork, HupUnderLoadReplacesEveryWorkerAndLosesNothing) {
    Server server({"--workers", "4"});
    ASSERT_TRUE(server.ready());
    ASSERT_TRUE(eventually([&] { return has_workers(server.pid(), 4); }));
    auto old = live_children(server.pid());
    load::LoadResult r;
    std::jthread clients([&] { r = load(server, 8, 0, "/", 1500); });
    ASSERT_EQ(get(server.port(), "/").status, 200);
    server.signal(SIGHUP);
    EXPECT_TRUE(eventually([&] {
        auto now = live_children(server.pid());
        return now.size() == 4 && std::none_of(old.begin(), old.end(), [&](pid_t w) {
                   return std::find(now.begin(), now.end(), w) != now.end();
               });
    })) << "not every worker was replaced";
    clients.join();
    EXPECT_GT(r.ok, 100);
    EXPECT_EQ(r.error_count(), 0) << errors_of(r);
}

// Three requests in flight, three more queued on the listener: QUIT answers all six.
// A HUP at idle reaches workers that wait for the lock, and lets a busy one finish first.
TEST(Prefork, HupLetsTheBusyWorkerFinishAndReplacesEveryone) {
    Server server({"--workers", "3"});
    ASSERT_TRUE(server.ready());
    ASSERT_TRUE(eventually([&] { return has_workers(server.pid(), 3); }));
    auto old = live_children(server.pid());
    Fd client = connect_to(server.port());
    ASSERT_TRUE(send_all(client.get(), "GET /sleep/500 HTTP/1.1\r\n\r\n"));
    ASSERT_TRUE(eventually([&] { return sleeping_workers(server.pid()) == 1; }));
    server.signal(SIGHUP);
    HttpReply r = read_reply(client.get(), 5s);
    EXPECT_EQ(r.status, 200) << "the busy worker's client lost its answer: " << r.error;
    EXPECT_TRUE(eventually([&] {
        auto now = live_children(server.pid());
        return now.size() == 3 && std::none_of(old.begin(), old.end(), [&](pid_t w) {
                   return std::find(now.begin(), now.end(), w) != now.end();
               });
    })) << server.log();
    EXPECT_EQ(get(server.port(), "/").status, 200);
    EXPECT_NE(server.log().find("every worker replaced"), std::string::npos) << server.log();
}

TEST(Prefork, QuitFinishesRequestsInFlightAndQueued) {
    Server server({"--workers", "3"});
    ASSERT_TRUE(server.ready());
    ASSERT_TRUE(eventually([&] { return has_workers(server.pid(), 3); }));
    std::vector<Fd> clients;
    for (int i = 0; i < 6; ++i) {
        clients.push_back(connect_to(server.port()));  // connected: in the queue, if not taken
        ASSERT_TRUE(send_all(clients.back().get(), "GET /sleep/300 HTTP/1.1\r\n\r\n"));
    }
    ASSERT_TRUE(eventually([&] { return sleeping_workers(server.pid()) == 3; }));
    server.signal(SIGQUIT);
    for (std::size_t i = 0; i < clients.size(); ++i) {
        HttpReply r = read_reply(clients[i].get(), 5s);
        EXPECT_EQ(r.status, 200) << "request " << i << ": " << r.error;
    }
    EXPECT_TRUE(eventually([&] { return server.exited(); }, 5s));
    EXPECT_EQ(server.exit_code(), 0);
}

// The graceful stop is bounded: what is still running at --graceful-timeout is killed.
TEST(Prefork, QuitKillsWhatOutlivesTheGracefulTimeout) {
    Server server({"--workers", "2", "--graceful-timeout", "0.3"});
    ASSERT_TRUE(server.ready());
    Fd client = connect_to(server.port());
    ASSERT_TRUE(send_all(client.get(), "GET /sleep/20000 HTTP/1.1\r\n\r\n"));
    ASSERT_TRUE(eventually([&] { return sleeping_workers(server.pid()) == 1; }));
    auto start = std::chrono::steady_clock::now();
    EXPECT_EQ(server.stop(SIGQUIT, 5s), 0);
    EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
    EXPECT_TRUE(closed_within(client.get(), 1s));
    EXPECT_NE(server.log().find("SIGKILLed after its stop deadline"), std::string::npos)
        << server.log();
}

TEST(Prefork, TermStopsAtOnce) {
    Server server({"--workers", "3"});
    ASSERT_TRUE(server.ready());
    Fd client = connect_to(server.port());
    ASSERT_TRUE(send_all(client.get(), "GET /sleep/20000 HTTP/1.1\r\n\r\n"));
    ASSERT_TRUE(eventually([&] { return sleeping_workers(server.pid()) == 1; }));
    auto pool = live_children(server.pid());
    auto start = std::chrono::steady_clock::now();
    EXPECT_EQ(server.stop(SIGTERM, 5s), 0);
    EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);
    EXPECT_TRUE(std::none_of(pool.begin(), pool.end(), [](pid_t w) { return alive(w); }));
}

TEST(Prefork, MaxRequestsRecyclesWorkersAndLosesNothing) {
    Server server({"--workers", "2", "--max-requests", "10"});
    ASSERT_TRUE(server.ready());
    auto r = load(server, 4, 300);
    EXPECT_EQ(r.ok, 300) << errors_of(r);
    std::string status = get(server.port(), "/status").body;
    for (std::size_t pos = status.find('\n', status.find("age_s")); pos != std::string::npos;
         pos = status.find('\n', pos + 1)) {
        std::istringstream row(status.substr(pos + 1, status.find('\n', pos + 1) - pos - 1));
        std::string pid, state;
        long requests = -1;
        row >> pid >> state;
        while (row && !(row >> requests)) {
            row.clear();
            row >> state;
        }
        if (requests >= 0) {
            EXPECT_LE(requests, 10) << status;
        }
    }
    EXPECT_TRUE(eventually([&] {
        std::string log = server.log();
        std::size_t retired = 0;
        for (std::size_t p = log.find("(max-requests)"); p != std::string::npos;
             p = log.find("(max-requests)", p + 1)) {
            ++retired;
        }
        return retired >= 25;
    })) << server.log();
}

TEST(Prefork, StatusShowsTheScoreboard) {
    Server server({"--workers", "3"});
    ASSERT_TRUE(server.ready());
    ASSERT_TRUE(eventually([&] { return has_workers(server.pid(), 3); }));
    std::string status = get(server.port(), "/status").body;
    EXPECT_NE(status.find("accept lock flock"), std::string::npos) << status;
    for (pid_t w : live_children(server.pid())) {
        EXPECT_NE(status.find(std::to_string(w)), std::string::npos) << status;
    }
    EXPECT_NE(get(server.port(), "/status?json").body.find("\"workers\":[{\"pid\":"),
              std::string::npos);
}

// The scoreboard agrees with /proc/locks: at idle one worker in accept, the others waiting for the
// lock, and the one answering /status busy.
TEST(Prefork, TheScoreboardShowsWhoWaitsForTheLock) {
    Server server({"--workers", "4"});
    ASSERT_TRUE(server.ready());
    std::string status;
    EXPECT_TRUE(eventually(
        [&] {
            status = get(server.port(), "/status").body;
            return count_of(status, "in accept") == 1 &&
                   count_of(status, "waiting for the lock") == 2 && count_of(status, "busy") == 1;
        },
        3s))
        << status;
}

TEST(Prefork, Usr1ReopensTheLogInTheMasterAndEveryWorker) {
    TempDir dir("forklab-ch03");
    std::string log = dir / "server.log";
    Server server({"--workers", "3", "--log-file", log});
    ASSERT_TRUE(server.ready());
    ASSERT_TRUE(eventually([&] { return has_workers(server.pid(), 3); }));
    fs::rename(log, log + ".1");
    server.signal(SIGUSR1);
    auto pool = live_children(server.pid());
    pool.push_back(server.pid());
    EXPECT_TRUE(eventually([&] {
        return std::none_of(pool.begin(), pool.end(), [&](pid_t p) {
            auto fds = fd_targets(p);
            return std::find(fds.begin(), fds.end(), log + ".1") != fds.end();
        });
    })) << "a process still writes to the rotated log";
    // A process switches its descriptor first and says so in the new file just after: wait for
    // the four lines, then check there are no more.
    EXPECT_TRUE(eventually([&] { return count_of(slurp(log), "log reopened") >= 4; }))
        << slurp(log);
    std::string text = slurp(log);
    EXPECT_EQ(count_of(text, "log reopened"), 4u) << text;
    EXPECT_EQ(server.stop(SIGTERM), 0);
}

TEST(Prefork, TheLockFileIsPrivateAndRemovedOnExit) {
    Server server({"--workers", "2"});
    ASSERT_TRUE(server.ready());
    ASSERT_TRUE(eventually([&] { return has_workers(server.pid(), 2); }));
    std::string lock_file;
    ASSERT_TRUE(eventually([&] {
        for (const std::string& target : fd_targets(live_children(server.pid()).front())) {
            if (target.find(".lock") != std::string::npos) {
                lock_file = target;
            }
        }
        return !lock_file.empty();
    })) << "no worker has a lock file open";
    struct stat dir = {};
    ASSERT_EQ(::stat(fs::path(lock_file).parent_path().c_str(), &dir), 0);
    EXPECT_EQ(octal(dir.st_mode & 0777), "0700")
        << "the lock file's directory is not private: " << lock_file;
    EXPECT_NE(fs::path(lock_file).parent_path(), fs::path("/tmp"));
    EXPECT_EQ(server.stop(SIGTERM), 0);
    EXPECT_FALSE(fs::exists(lock_file));
}

TEST(Prefork, TheLockDirectoryGoesUnderTmpdir) {
    TempDir tmp("forklab-ch03");
    // This test's process only (ctest runs each test in its own): the server inherits it.
    ASSERT_EQ(::setenv("TMPDIR", tmp.path().c_str(), 1), 0);
    struct Unset {
        ~Unset() { ::unsetenv("TMPDIR"); }  // before tmp goes: the tests after it need /tmp
    } unset;
    Server server({"--workers", "1"});
    ASSERT_TRUE(server.ready());
    std::string lock_file;
    EXPECT_TRUE(eventually([&] {
        std::vector<pid_t> w = live_children(server.pid());
        for (const std::string& target :
             w.empty() ? std::vector<std::string>{} : fd_targets(w.front())) {
            lock_file = target.find(".lock") != std::string::npos ? target : lock_file;
        }
        return !lock_file.empty();
    })) << "no worker has a lock file open";
    EXPECT_EQ(fs::path(lock_file).parent_path().parent_path(), fs::path(tmp.path())) << lock_file;
    EXPECT_EQ(server.stop(SIGTERM), 0);
}

TEST(Prefork, APlantedSymlinkAsLockFileIsRefused) {
    TempDir tmp("forklab-ch03");
    const std::string& dir = tmp.path();
    std::ofstream(dir + "/precious") << "do not touch\n";
    fs::create_symlink(dir + "/precious", dir + "/lock");
    RunResult r =
        run(server_binary(), {"--listen", "127.0.0.1:0", "--lock-file", dir + "/lock"}, 3s);
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find(dir + "/lock"), std::string::npos) << r.err;
    EXPECT_EQ(slurp(dir + "/precious"), "do not touch\n");
}

// A worker that cannot set up exits with the "fatal setup" code: respawning cannot help, so the
// master stops at once with a clear message.
TEST(Prefork, AWorkerThatCannotSetUpStopsTheServer) {
    TempDir dir("forklab-ch03");
    std::string lock = dir / "lock";
    Server server({"--workers", "2", "--lock-file", lock});
    ASSERT_TRUE(server.ready());
    server.allow_crashes();
    // Both workers past their setup: each holds the lock file open.
    ASSERT_TRUE(eventually([&] {
        std::vector<pid_t> pool = live_children(server.pid());
        return pool.size() == 2 && std::all_of(pool.begin(), pool.end(), [&](pid_t w) {
                   std::vector<std::string> fds = fd_targets(w);
                   return std::find(fds.begin(), fds.end(), lock) != fds.end();
               });
    }));
    // From now on no new worker can open the lock file.
    fs::remove(lock);
    fs::create_directory(lock);
    auto pool = live_children(server.pid());
    ASSERT_FALSE(pool.empty());
    ::kill(pool.front(), SIGKILL);
    EXPECT_TRUE(eventually([&] { return server.exited(); }, 5s)) << "the master did not give up";
    EXPECT_EQ(server.exit_code(), 1);
    std::string log = server.log();
    EXPECT_NE(log.find("giving up"), std::string::npos) << log;
    EXPECT_LE(count_of(log, "spawned worker"), 3u) << "respawned a worker that cannot set up";
}

// Workers that crash before their accept loop: a back-off between probes, then a clear exit.
TEST(Prefork, WorkersCrashingAtStartBackOffThenGiveUp) {
    Server server({"--workers", "4", "--drill-crash-at-start"});
    ASSERT_TRUE(server.ready());
    server.allow_crashes();
    auto start = std::chrono::steady_clock::now();
    EXPECT_TRUE(eventually([&] { return server.exited(); }, 8s)) << "the master did not give up";
    EXPECT_GE(std::chrono::steady_clock::now() - start, 300ms) << "no back-off";
    EXPECT_EQ(server.exit_code(), 1);
    std::string log = server.log();
    EXPECT_NE(log.find("giving up"), std::string::npos) << log;
    std::size_t spawned = count_of(log, "spawned worker");
    EXPECT_GT(spawned, 4u) << "never tried again after the first crashes";
    EXPECT_LE(spawned, 9u) << "a fork storm: " << spawned << " workers spawned\n" << log;
}

TEST(Prefork, EveryAcceptLockServesCorrectly) {
    for (const char* kind : {"fcntl", "none", "mutex"}) {
        Server server({"--workers", "3", "--accept-lock", kind});
        ASSERT_TRUE(server.ready()) << kind;
        auto r = load(server, 16, 600);
        EXPECT_EQ(r.ok, 600) << kind << ": " << errors_of(r);
        EXPECT_NE(get(server.port(), "/status").body.find(std::string("accept lock ") + kind),
                  std::string::npos);
    }
}

// A robust mutex: a holder killed while it holds the lock must not freeze the pool.
TEST(Prefork, TheMutexSurvivesItsHoldersDeath) {
    Server server({"--workers", "3", "--accept-lock", "mutex"});
    ASSERT_TRUE(server.ready());
    server.allow_crashes();
    for (int round = 0; round < 5; ++round) {
        ASSERT_TRUE(eventually([&] { return has_workers(server.pid(), 3); }));
        for (pid_t w : live_children(server.pid())) {
            ::kill(w, SIGKILL);  // one of them holds the mutex
        }
        HttpReply r = get(server.port(), "/", 5s);
        ASSERT_EQ(r.status, 200) << "round " << round << ": " << r.error;
    }
}

TEST(Prefork, BadFlagsGetUsageAndExitTwo) {
    for (std::vector<std::string> args : {std::vector<std::string>{"--accept-lock", "sem"},
                                          {"--workers", "0"},
                                          {"--max-requests", "-1"}}) {
        RunResult r = run(server_binary(), args);
        EXPECT_EQ(r.exit_code, 2) << args[0];
        EXPECT_NE(r.err.find("usage:"), std::string::npos);
    }
}

}  // namespace
}  // namespace forklab::test
