/// \file
/// \brief Chapter 07: chapter 03's prefork pool, upgradable in place: USR2 execs the binary again
/// with the listener, and the old master leaves once the new one is ready.
#include <unistd.h>

#include <climits>
#include <csignal>
#include <iostream>

#include "01_fork_server/signals.hpp"
#include "02_daemon/daemon.hpp"
#include "03_prefork_flock/accept_lock.hpp"
#include "03_prefork_flock/pool.hpp"
#include "03_prefork_flock/scoreboard.hpp"
#include "forklab/cli.hpp"
#include "forklab/error.hpp"
#include "forklab/log.hpp"
#include "forklab/net.hpp"
#include "listen_fds.hpp"
#include "upgrade.hpp"

namespace {

/// The path of the running binary, read now: once the file is replaced on disk, /proc/self/exe
/// names the old, deleted file, and the path is what an upgrade must exec.
std::string own_binary() {
    char path[PATH_MAX];
    ssize_t n = ::readlink("/proc/self/exe", path, sizeof path - 1);
    if (n == -1) {
        forklab::throw_errno("readlink /proc/self/exe");
    }
    return std::string(path, static_cast<std::size_t>(n));
}

}  // namespace

int main(int argc, char** argv) {
    forklab::ServerOptions options;
    forklab::ch03::PoolConfig config;
    std::string pid_path;
    long upgrade_timeout_ms = 30000;
    forklab::Cli cli("ch07_live_upgrade",
                     "Chapter 07: chapter 03's prefork pool, upgraded in place by SIGUSR2.");
    forklab::add_server_options(cli, options);
    cli.option("workers", "workers kept alive (default 4)", config.workers, 1, 256);
    cli.option("max-requests", "a worker serves N connections (less a jitter) then is replaced",
               config.max_requests, 0, 1000000000);
    cli.option("pid-file", "PATH", "the master's pid, held locked (PATH.oldbin while upgrading)",
               pid_path);
    cli.seconds("upgrade-timeout", "how long a new master may take to be ready (default 30)",
                upgrade_timeout_ms, 3600);
    if (auto code = cli.parse(argc, argv)) {
        return *code;
    }
    config.graceful_timeout_ms = options.graceful_timeout_ms;
    config.drills = options.drills;
    config.limits.read_timeout_ms = options.read_timeout_ms;
    try {
        //! [setup]
        // First, before anything else opens a descriptor: what the old master (or systemd) passed.
        std::optional<forklab::Fd> passed = forklab::ch07::take_listener();
        forklab::Fd to_old_master = forklab::ch07::take_ready_pipe();
        forklab::ch01::ignore_sigpipe();
        forklab::log::init("master", options.log_file);
        forklab::ch01::SignalEvents signals{SIGCHLD, SIGTERM, SIGINT, SIGQUIT,
                                            SIGHUP,  SIGUSR1, SIGUSR2};
        forklab::Fd listener;
        if (passed) {
            listener = std::move(*passed);
            forklab::set_nonblocking(listener.get());  // the workers poll it (chapter 03)
            forklab::log::line("took over the listener passed as descriptor 3 (--listen unused)");
        } else {
            listener = forklab::listen_on(options.listen, {.nonblock = true});
        }
        forklab::ch02::PidFile pid_file;
        if (!pid_path.empty()) {
            pid_file = forklab::ch02::PidFile::acquire(pid_path);
        }
        forklab::ch03::Scoreboard board(static_cast<std::size_t>(config.workers) * 2);
        forklab::ch07::UpgradeConfig upgrade_config{
            own_binary(), std::vector<std::string>(argv, argv + argc), upgrade_timeout_ms,
            options.graceful_timeout_ms, config.workers};
        forklab::ch07::LiveUpgrade upgrade(listener.get(), board, pid_file,
                                           std::move(upgrade_config), std::move(to_old_master));
        // Last before the loop: nothing that throws comes between creating the lock's private
        // directory and the remove() after the loop.
        auto lock = forklab::ch03::AcceptLock::create(forklab::ch03::LockKind::flock, "");
        std::cout << "forklab: listening on " << forklab::local_endpoint(listener.get()).to_string()
                  << " pid " << ::getpid() << std::endl;
        int code = forklab::ch03::run_pool(listener.get(), lock, board, signals, config, &upgrade);
        upgrade.finish();
        lock.remove();
        //! [setup]
        // Leaving: a late signal must not run its default action once the handlers are gone.
        sigset_t all;
        sigfillset(&all);
        ::sigprocmask(SIG_BLOCK, &all, nullptr);
        return code;
    } catch (const std::exception& e) {
        std::cerr << "ch07_live_upgrade: " << e.what() << "\n";
        return 1;
    }
}
