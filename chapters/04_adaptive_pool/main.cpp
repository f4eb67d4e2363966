/// \file
/// \brief Chapter 04: a pool that grows and shrinks between water marks of idle workers.
#include <unistd.h>

#include <csignal>
#include <iostream>

#include "01_fork_server/signals.hpp"
#include "03_prefork_flock/scoreboard.hpp"
#include "forklab/cli.hpp"
#include "forklab/log.hpp"
#include "forklab/net.hpp"
#include "pool.hpp"

int main(int argc, char** argv) {
    forklab::ServerOptions options;
    forklab::ch04::PoolConfig config;
    forklab::ch04::PolicyConfig& p = config.policy;
    forklab::Cli cli("ch04_adaptive_pool",
                     "Chapter 04: a prefork pool steered by low/high water marks of idle workers.");
    forklab::add_server_options(cli, options);
    cli.option("start-workers", "workers forked at start (default 3)", config.start_workers, 0,
               4096);
    cli.option("min-idle", "low water mark: fewer idle workers, spawn (default 2)", p.min_idle, 0,
               4096);
    cli.option("max-idle", "high water mark: more idle workers, retire one (default 5)", p.max_idle,
               0, 4096);
    cli.option("max-workers", "hard cap on workers (default 32)", p.max_workers, 1, 4096);
    cli.seconds("min-age", "never retire a worker younger than this (default 2)", p.min_age_ms,
                3600);
    cli.option("max-requests", "a worker serves N connections (less a jitter), then retires",
               config.max_requests, 0, 1000000000);
    cli.seconds("maintenance-interval", "how often the policy runs (default 1)",
                config.maintenance_ms, 60);
    cli.seconds("heartbeat-interval", "how often an idle worker reports (default 0.5)",
                config.heartbeat_ms, 60);
    cli.seconds("heartbeat-timeout",
                "a worker silent this long is hung; keep it above the longest request "
                "(default 75)",
                config.heartbeat_timeout_ms, 3600);
    cli.flag("drill-failing-start", "drill: every worker fails at start (a crash loop)",
             config.fail_at_start);
    if (auto code = cli.parse(argc, argv)) {
        return *code;
    }
    if (p.max_idle < p.min_idle || config.maintenance_ms < 10 || config.heartbeat_ms < 10) {
        std::cerr << "ch04_adaptive_pool: --max-idle must be >= --min-idle, and the intervals at "
                     "least 0.01 s\n\n"
                  << cli.usage();
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
        forklab::Fd listener = forklab::listen_on(options.listen);
        // Room for every worker the cap allows, plus those still leaving.
        forklab::ch03::Scoreboard board(static_cast<std::size_t>(p.max_workers) * 2);
        std::cout << "forklab: listening on " << forklab::local_endpoint(listener.get()).to_string()
                  << " pid " << ::getpid() << std::endl;
        return forklab::ch04::run_pool(listener.get(), board, signals, config);
    } catch (const std::exception& e) {
        std::cerr << "ch04_adaptive_pool: " << e.what() << "\n";
        return 1;
    }
}
