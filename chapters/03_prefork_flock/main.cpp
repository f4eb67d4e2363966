/// \file
/// \brief Chapter 03: a fixed pool of preforked workers taking turns at accept under a lock.
#include <unistd.h>

#include <csignal>
#include <iostream>

#include "01_fork_server/signals.hpp"
#include "accept_lock.hpp"
#include "forklab/cli.hpp"
#include "forklab/log.hpp"
#include "forklab/net.hpp"
#include "pool.hpp"
#include "scoreboard.hpp"

namespace {

/// Removes the lock file (and its private directory) however the master leaves main.
class RemoveAtExit {
  public:
    explicit RemoveAtExit(forklab::ch03::AcceptLock& lock) : lock_(lock) {}
    ~RemoveAtExit() { lock_.remove(); }
    RemoveAtExit(const RemoveAtExit&) = delete;
    RemoveAtExit& operator=(const RemoveAtExit&) = delete;

  private:
    forklab::ch03::AcceptLock& lock_;
};

}  // namespace

int main(int argc, char** argv) {
    forklab::ServerOptions options;
    forklab::ch03::PoolConfig config;
    auto lock_kind = forklab::ch03::LockKind::flock;
    std::string lock_file;
    forklab::Cli cli("ch03_prefork_flock",
                     "Chapter 03: a fixed pool of preforked workers, accept serialized by a lock.");
    forklab::add_server_options(cli, options);
    cli.option("workers", "workers kept alive (default 4)", config.workers, 1, 256);
    cli.option("accept-lock", "KIND", "flock (default), fcntl, none or mutex",
               [&](const std::string& v) {
                   auto kind = forklab::ch03::parse_lock_kind(v);
                   if (!kind) {
                       return std::string("expects flock, fcntl, none or mutex");
                   }
                   lock_kind = *kind;
                   return std::string();
               });
    cli.option("lock-file", "PATH", "the lock file (default: in a new private directory)",
               lock_file);
    cli.option("max-requests", "a worker serves N connections (less a jitter) then is replaced",
               config.max_requests, 0, 1000000000);
    cli.flag("drill-crash-at-start", "drill: every worker aborts before its accept loop",
             config.crash_at_start);
    if (auto code = cli.parse(argc, argv)) {
        return *code;
    }
    config.graceful_timeout_ms = options.graceful_timeout_ms;
    config.drills = options.drills;
    config.limits.read_timeout_ms = options.read_timeout_ms;
    try {
        //! [setup]
        forklab::ch01::ignore_sigpipe();
        forklab::log::init("master", options.log_file);
        forklab::ch01::SignalEvents signals{SIGCHLD, SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGUSR1};
        forklab::Fd listener = forklab::listen_on(options.listen, {.nonblock = true});
        auto lock = forklab::ch03::AcceptLock::create(lock_kind, lock_file);
        RemoveAtExit remove_lock(lock);
        // Twice the pool: during a HUP an old worker finishes while its replacement already works.
        forklab::ch03::Scoreboard board(static_cast<std::size_t>(config.workers) * 2);
        std::cout << "forklab: listening on " << forklab::local_endpoint(listener.get()).to_string()
                  << " pid " << ::getpid() << std::endl;
        int code = forklab::ch03::run_pool(listener.get(), lock, board, signals, config);
        //! [setup]
        // Leaving: the handlers go back to their defaults as SignalEvents is destroyed, and a late
        // QUIT must not then dump core. Nothing is left to do with a signal anyway.
        sigset_t all;
        sigfillset(&all);
        ::sigprocmask(SIG_BLOCK, &all, nullptr);
        return code;
    } catch (const std::exception& e) {
        std::cerr << "ch03_prefork_flock: " << e.what() << "\n";
        return 1;
    }
}
