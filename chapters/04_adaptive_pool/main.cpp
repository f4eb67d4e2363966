/// \file
/// \brief Chapter 04: chapter 03's pool, grown and shrunk between water marks of idle workers.
#include <unistd.h>

#include <csignal>
#include <iostream>
#include <memory>

#include "01_fork_server/signals.hpp"
#include "03_prefork_flock/accept_lock.hpp"
#include "03_prefork_flock/scoreboard.hpp"
#include "forklab/cli.hpp"
#include "forklab/log.hpp"
#include "forklab/net.hpp"
#include "pool.hpp"

namespace {

/// The most workers the cap may allow (the scoreboard has twice as many slots).
constexpr long most_workers = 1024;

//! [cross_checks]
/// The checks no single flag can make: "" when the settings make a pool that can serve, else what
/// is wrong, naming the flags.
std::string cross_check(const forklab::ch04::PoolConfig& c) {
    const forklab::ch04::PolicyConfig& p = c.policy;
    if (c.start_workers > p.max_workers) {
        return "--start-workers (" + std::to_string(c.start_workers) +
               ") must not exceed --max-workers (" + std::to_string(p.max_workers) + ")";
    }
    if (p.min_idle > p.max_workers) {
        return "--min-idle (" + std::to_string(p.min_idle) + ") must not exceed --max-workers (" +
               std::to_string(p.max_workers) + ")";
    }
    if (p.max_idle < p.min_idle) {
        return "--max-idle (" + std::to_string(p.max_idle) + ") must be at least --min-idle (" +
               std::to_string(p.min_idle) + ")";
    }
    return "";
}
//! [cross_checks]

}  // namespace

int main(int argc, char** argv) {
    forklab::ServerOptions options;
    forklab::ch04::PoolConfig config;
    forklab::ch04::PolicyConfig& p = config.policy;
    forklab::Cli cli("ch04_adaptive_pool",
                     "Chapter 04: chapter 03's prefork pool, steered by low/high water marks of "
                     "idle workers.");
    forklab::add_server_options(cli, options);
    //! [flags]
    cli.option("start-workers", "workers forked at start, at most --max-workers (default 3)",
               config.start_workers, 0, most_workers);
    cli.option("min-idle", "low water mark: fewer idle workers, spawn; at least 1 (default 2)",
               p.min_idle, 1, most_workers);
    cli.option("max-idle", "high water mark: more idle workers, retire one (default 5)", p.max_idle,
               1, most_workers);
    cli.option("max-workers", "hard cap on workers (default 32)", p.max_workers, 1, most_workers);
    cli.seconds("min-age", "never retire a worker younger than this (default 2)", p.min_age_ms,
                3600);
    cli.option("max-requests", "a worker serves N connections (less a jitter), then retires",
               config.max_requests, 0, 1000000000);
    cli.seconds("maintenance-interval", "how often the policy runs, 0.01 to 60 (default 1)",
                config.maintenance_ms, 60, 0.01);
    cli.seconds("heartbeat-timeout",
                "a worker busy and silent this long is hung; keep it above the longest request, "
                "0.1 to 3600 (default 75)",
                config.heartbeat_timeout_ms, 3600, 0.1);
    cli.option("report", "HOW",
               "how the master learns what the workers do: scoreboard (default: it reads their "
               "slots once a period) or pipe (they send a record at every change)",
               [&config](const std::string& v) {
                   if (v != "scoreboard" && v != "pipe") {
                       return std::string("expects scoreboard or pipe");
                   }
                   config.report = v == "pipe" ? forklab::ch04::Report::pipe
                                               : forklab::ch04::Report::scoreboard;
                   return std::string();
               });
    cli.flag("drill-crash-at-start", "drill: every worker aborts before its accept loop",
             config.crash_at_start);
    //! [flags]
    if (auto code = cli.parse(argc, argv)) {
        return *code;
    }
    if (std::string wrong = cross_check(config); !wrong.empty()) {
        std::cerr << "ch04_adaptive_pool: " << wrong << "\n\n" << cli.usage();
        return 2;
    }
    config.graceful_timeout_ms = options.graceful_timeout_ms;
    config.drills = options.drills;
    config.limits.read_timeout_ms = options.read_timeout_ms;
    try {
        forklab::ch01::ignore_sigpipe();
        forklab::log::init("master", options.log_file);
        forklab::ch01::SignalEvents signals{SIGCHLD, SIGTERM, SIGINT,  SIGQUIT,
                                            SIGHUP,  SIGUSR1, SIGTTIN, SIGTTOU};
        // Chapter 03's workers wait in poll on the listener: it must not block.
        forklab::Fd listener = forklab::listen_on(options.listen, {.nonblock = true});
        // Chapter 03's accept lock, in a private directory removed however main is left.
        auto lock = forklab::ch03::AcceptLock::create(forklab::ch03::LockKind::flock, "");
        std::unique_ptr<forklab::ch03::AcceptLock, void (*)(forklab::ch03::AcceptLock*)> remover(
            &lock, [](forklab::ch03::AcceptLock* l) { l->remove(); });
        // Room for every worker the cap allows, plus as many still leaving.
        forklab::ch03::Scoreboard board(static_cast<std::size_t>(p.max_workers) * 2);
        std::cout << "forklab: listening on " << forklab::local_endpoint(listener.get()).to_string()
                  << " pid " << ::getpid() << std::endl;
        int code = forklab::ch04::run_pool(listener.get(), lock, board, signals, config);
        // As in chapter 03: a late QUIT must not dump core once the handlers are gone.
        sigset_t all;
        sigfillset(&all);
        ::sigprocmask(SIG_BLOCK, &all, nullptr);
        return code;
    } catch (const std::exception& e) {
        std::cerr << "ch04_adaptive_pool: " << e.what() << "\n";
        return 1;
    }
}
