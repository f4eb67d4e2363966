/// \file
/// \brief Chapter 07 judged from the outside: upgrades under load lose no request, failed upgrades
/// roll back, nothing leaks across ten upgrades, and a passed socket is served without binding.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <thread>
#include <vector>

#include "forklab/net.hpp"
#include "harness/http_client.hpp"
#include "harness/proc.hpp"
#include "harness/server.hpp"
#include "harness/temp_dir.hpp"
#include "harness/wait.hpp"

namespace forklab::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

/// One request per connection from a few threads until stopped (at most 60 s), counting what
/// failed.
class ClientLoop {
  public:
    explicit ClientLoop(int port, int threads = 3) {
        for (int i = 0; i < threads; ++i) {
            threads_.emplace_back([this, port] {
                auto end = std::chrono::steady_clock::now() + 60s;
                while (!stop_ && std::chrono::steady_clock::now() < end) {
                    HttpReply r = get(port, "/", 10s);
                    (r.complete && r.status == 200 ? ok_ : failed_)++;
                }
            });
        }
    }
    ~ClientLoop() { finish(); }
    ClientLoop(const ClientLoop&) = delete;
    ClientLoop& operator=(const ClientLoop&) = delete;

    /// Stops the clients and waits for them.
    void finish() {
        stop_ = true;
        for (std::thread& t : threads_) {
            if (t.joinable()) {
                t.join();
            }
        }
    }
    /// Waits until \p n more requests have succeeded.
    bool more(long n) {
        long target = ok_ + n;
        return eventually([&] { return ok_ >= target; }, 30s);
    }
    [[nodiscard]] long ok() const { return ok_; }          ///< Successes so far.
    [[nodiscard]] long failed() const { return failed_; }  ///< Failures so far.

  private:
    std::atomic<bool> stop_{false};
    std::atomic<long> ok_{0};
    std::atomic<long> failed_{0};
    std::vector<std::thread> threads_;
};

/// A server run from a copy of the binary in a directory of its own, so the test can replace the
/// file the way a deployment does (a new file renamed over the old path).
class Deployed {
  public:
    explicit Deployed(std::vector<std::string> extra = {}) : binary_(dir_ / "server") {
        fs::copy_file(server_binary(), binary_);
        std::vector<std::string> args = {
            "--workers", "2", "--pid-file", dir_ / "server.pid", "--graceful-timeout", "5"};
        args.insert(args.end(), extra.begin(), extra.end());
        server_.emplace(args, binary_);
    }
    Server& server() { return *server_; }
    [[nodiscard]] std::string pid_path() const { return dir_ / "server.pid"; }
    /// What the pid file says (0: no file).
    [[nodiscard]] pid_t pid_file() const {
        return static_cast<pid_t>(std::atol(slurp(pid_path()).c_str()));
    }
    /// Replaces the binary with a shell script.
    void replace_with_script(const std::string& body) const {
        std::string next = dir_ / "server.new";
        std::ofstream(next) << "#!/bin/sh\n" << body << "\n";
        fs::permissions(next, fs::perms::owner_all);
        fs::rename(next, binary_);
    }
    /// USR2, then waits until the pid file names a new master whose old one has exited, and
    /// follows it. Returns the new master's pid (0 on failure, with the test failed).
    pid_t upgrade() {
        pid_t old = server_->pid();
        server_->signal(SIGUSR2);
        // A failed upgrade rolls back at once: then the path never names another master.
        bool moved = eventually([&] { return pid_file() != old && pid_file() != 0; }, 20s);
        bool left = moved && eventually([&] { return server_->exited(); }, 20s);
        EXPECT_TRUE(moved && left) << "pid file says " << pid_file() << ", old master " << old
                                   << (left ? " left" : " still there") << "; log:\n"
                                   << server_->log();
        if (!moved || !left) {
            return 0;
        }
        pid_t now = pid_file();
        server_->follow(now);
        return now;
    }

  private:
    TempDir dir_{"forklab-ch07"};
    std::string binary_;
    std::optional<Server> server_;
};

bool is_worker_of(int port, pid_t master) {
    HttpReply r = get(port, "/pid");
    return r.status == 200 && proc_stat(std::stoi(r.body)).value_or(ProcStat{}).ppid == master;
}

std::size_t count_of(const std::string& text, const std::string& what) {
    std::size_t n = 0;
    for (std::size_t p = text.find(what); p != std::string::npos; p = text.find(what, p + 1)) {
        ++n;
    }
    return n;
}

TEST(LiveUpgrade, Usr2UnderLoadLosesNoRequest) {
    Deployed d;
    ASSERT_TRUE(d.server().ready());
    pid_t old = d.server().pid();
    EXPECT_EQ(d.pid_file(), old);
    ClientLoop clients(d.server().port());
    ASSERT_TRUE(clients.more(50));
    pid_t now = d.upgrade();
    ASSERT_NE(now, 0);
    EXPECT_TRUE(clients.more(50));
    clients.finish();
    EXPECT_EQ(clients.failed(), 0) << clients.ok() << " succeeded; log:\n" << d.server().log();
    EXPECT_NE(now, old);
    EXPECT_FALSE(alive(old));
    EXPECT_TRUE(is_worker_of(d.server().port(), now)) << "/pid is not answered by the new pool";
    EXPECT_FALSE(fs::exists(d.pid_path() + ".oldbin"));
    // The environment the new master was exec'd with (/proc/PID/environ keeps it as it was).
    std::string environ = slurp("/proc/" + std::to_string(now) + "/environ");
    EXPECT_NE(environ.find(std::string("LISTEN_PID=") + std::to_string(now) + '\0'),
              std::string::npos)
        << "LISTEN_PID must name the new master itself";
    EXPECT_NE(environ.find(std::string("LISTEN_FDS=1") + '\0'), std::string::npos);
    EXPECT_EQ(d.server().stop(SIGTERM), 0);
}

TEST(LiveUpgrade, ANewBinaryThatExitsAtStartIsRolledBack) {
    Deployed d;
    ASSERT_TRUE(d.server().ready());
    pid_t old = d.server().pid();
    d.replace_with_script("exit 1");
    ClientLoop clients(d.server().port());
    ASSERT_TRUE(clients.more(20));
    d.server().signal(SIGUSR2);
    ASSERT_TRUE(eventually([&] {
        return d.server().log().find("rolled back") != std::string::npos;
    })) << d.server().log();
    EXPECT_TRUE(clients.more(20));
    clients.finish();
    EXPECT_EQ(clients.failed(), 0);
    EXPECT_TRUE(alive(old));
    EXPECT_EQ(d.pid_file(), old) << "the pid file does not name the old master again";
    EXPECT_NE(d.server().log().find("exited with code 1 before it was ready"), std::string::npos)
        << d.server().log();
    EXPECT_TRUE(is_worker_of(d.server().port(), old));
    EXPECT_EQ(d.server().stop(SIGTERM), 0);
}

TEST(LiveUpgrade, ANewBinaryNeverReadyIsRolledBackAndASecondUsr2IsRefused) {
    Deployed d({"--upgrade-timeout", "1"});
    ASSERT_TRUE(d.server().ready());
    pid_t old = d.server().pid();
    // Holds the listener and the readiness pipe, says nothing, leaves when asked to QUIT.
    d.replace_with_script("trap 'exit 0' QUIT\nwhile :; do sleep 0.05; done");
    ClientLoop clients(d.server().port());
    ASSERT_TRUE(clients.more(20));
    d.server().signal(SIGUSR2);
    ASSERT_TRUE(
        eventually([&] { return d.server().log().find("USR2: started") != std::string::npos; }));
    d.server().signal(SIGUSR2);
    EXPECT_TRUE(eventually([&] {
        return d.server().log().find("USR2 refused") != std::string::npos;
    })) << d.server().log();
    ASSERT_TRUE(eventually([&] {
        return d.server().log().find("rolled back") != std::string::npos;
    })) << d.server().log();
    EXPECT_NE(d.server().log().find("was not ready within 1000 ms"), std::string::npos);
    EXPECT_TRUE(clients.more(20));
    clients.finish();
    EXPECT_EQ(clients.failed(), 0);
    EXPECT_EQ(count_of(d.server().log(), "USR2: started"), 1U);
    EXPECT_TRUE(alive(old));
    EXPECT_EQ(d.pid_file(), old);
    EXPECT_EQ(d.server().stop(SIGTERM), 0);
}

TEST(LiveUpgrade, TenUpgradesInARowLeakNothing) {
    Deployed d;
    ASSERT_TRUE(d.server().ready());
    std::vector<pid_t> masters = {d.server().pid()};
    int fds_after_first = -1;
    for (int i = 0; i < 10; ++i) {
        pid_t now = d.upgrade();
        ASSERT_NE(now, 0) << "upgrade " << i + 1;
        ASSERT_TRUE(eventually([&] { return live_children(now).size() == 2; }));
        if (i == 0) {
            fds_after_first = fd_count(now);
        }
        masters.push_back(now);
    }
    pid_t last = masters.back();
    EXPECT_EQ(fd_count(last), fds_after_first) << "descriptors pile up from upgrade to upgrade";
    EXPECT_EQ(get(d.server().port(), "/").status, 200);
    EXPECT_TRUE(is_worker_of(d.server().port(), last));
    for (std::size_t i = 0; i + 1 < masters.size(); ++i) {
        EXPECT_FALSE(alive(masters[i])) << "old master " << masters[i] << " is still there";
    }
    // Only the last master and its two workers are left of the group.
    std::size_t left = 0;
    for (const ProcStat& s : all_processes()) {
        left += s.pgrp == d.server().launched_pid() && s.state != 'Z';
    }
    EXPECT_EQ(left, 3U);
    EXPECT_EQ(d.server().stop(SIGTERM), 0);
}

/// The readlink of /proc/PID/fd/FD ("socket:[123]").
std::string fd_target(pid_t pid, int fd) {
    std::error_code ec;
    return fs::read_symlink("/proc/" + std::to_string(pid) + "/fd/" + std::to_string(fd), ec)
        .string();
}

// The test passes the socket the way systemd does: it listens, the harness hands the socket on as
// descriptor 3, and a shell sets LISTEN_FDS and LISTEN_PID (its own pid, which exec keeps) and
// execs the server.
TEST(SocketActivation, ServesThePassedSocketAndNeverBinds) {
    Fd listener = listen_on({"127.0.0.1", 0});
    int port = local_endpoint(listener.get()).port;
    // --listen names the same port: a server that bound it anyway would fail (EADDRINUSE).
    Server server({"-c", "LISTEN_FDS=1 LISTEN_PID=$$ exec \"$0\" \"$@\"", server_binary(),
                   "--listen", "127.0.0.1:" + std::to_string(port), "--workers", "2"},
                  "/bin/sh", {listener.get()});
    listener.reset();
    ASSERT_TRUE(server.ready()) << server.log();
    EXPECT_EQ(server.port(), port);
    EXPECT_EQ(get(port, "/").status, 200);
    EXPECT_EQ(fd_target(server.pid(), 3).rfind("socket:", 0), 0U);
    EXPECT_NE(server.log().find("took over the listener"), std::string::npos) << server.log();
    EXPECT_EQ(server.stop(SIGTERM), 0);
}

TEST(SocketActivation, LeavesASocketMeantForAnotherProcessAlone) {
    Fd listener = listen_on({"127.0.0.1", 0});
    int port = local_endpoint(listener.get()).port;
    // LISTEN_PID names the shell's parent: the variables were inherited, not meant for us.
    Server server({"-c", "LISTEN_FDS=1 LISTEN_PID=$PPID exec \"$0\" \"$@\"", server_binary(),
                   "--listen", "127.0.0.1:0", "--workers", "2"},
                  "/bin/sh", {listener.get()});
    ASSERT_TRUE(server.ready()) << server.log();
    EXPECT_NE(server.port(), port) << "took a socket LISTEN_PID did not give it";
    EXPECT_EQ(get(server.port(), "/").status, 200);
    EXPECT_EQ(server.stop(SIGTERM), 0);
}

TEST(SocketActivation, UnderSystemdSocketActivate) {
    const char* tool = "/usr/bin/systemd-socket-activate";
    if (::access(tool, X_OK) != 0) {
        GTEST_SKIP() << "systemd-socket-activate is not installed";
    }
    // It takes no port 0: borrow a free port from the kernel, then let the tool bind it.
    int port = 0;
    {
        Fd probe = listen_on({"127.0.0.1", 0});
        port = local_endpoint(probe.get()).port;
    }
    // The tool execs the server only once a client connects: that first client is served too.
    std::atomic<int> first{0};
    std::thread client([&] {
        eventually(
            [&] {
                try {
                    first = get(port, "/", 10s).status;
                } catch (const std::system_error&) {
                    return false;  // not listening yet
                }
                return first != 0;
            },
            15s, 20ms);
    });
    Server server(
        {"--listen", "127.0.0.1:" + std::to_string(port), server_binary(), "--workers", "2"}, tool);
    client.join();
    ASSERT_TRUE(server.ready()) << server.log();
    EXPECT_EQ(first, 200);
    EXPECT_EQ(server.port(), port);
    EXPECT_EQ(get(port, "/").status, 200);
    EXPECT_NE(server.log().find("took over the listener"), std::string::npos) << server.log();
    EXPECT_EQ(server.stop(SIGTERM), 0);
}

}  // namespace
}  // namespace forklab::test
