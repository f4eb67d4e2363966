/// \file
/// \brief Chapter 05's command line and start-up.
#include "setup.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <iostream>

#include "01_fork_server/signals.hpp"
#include "03_prefork_flock/scoreboard.hpp"
#include "forklab/log.hpp"
#include "forklab/net.hpp"
#include "shared_memory.hpp"
#include "stats.hpp"

namespace forklab::ch05 {

void add_master_options(Cli& cli, MasterConfig& config) {
    config.workers =
        std::clamp(::sysconf(_SC_NPROCESSORS_ONLN), 1L, static_cast<long>(max_workers));
    cli.option("workers", "worker processes (default: one per core)", config.workers, 1,
               static_cast<long>(max_workers));
    cli.seconds("keepalive-timeout", "close a keep-alive connection idle this long (default 5)",
                config.limits.keepalive_timeout_ms, 3600);
    cli.option("max-connections", "connections per worker at most (default 4096)",
               config.limits.max_connections, 1, 1000000);
}

//! [setup]
int start_master(const char* program, const ServerOptions& options, MasterConfig& config) {
    config.limits.read_timeout_ms = options.read_timeout_ms;
    config.graceful_timeout_ms = options.graceful_timeout_ms;
    config.drills = options.drills;
    // A worker cannot hold more connections than it has descriptors: keep the cap below the limit
    // (received descriptors count against RLIMIT_NOFILE like any other).
    rlimit nofile{};
    if (::getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur != RLIM_INFINITY) {
        config.limits.max_connections =
            std::clamp(static_cast<long>(nofile.rlim_cur) - 32, 1L, config.limits.max_connections);
    }
    try {
        ch01::ignore_sigpipe();
        log::init("master", options.log_file);
        // Before anything forks: every signal becomes an event of the master's loop.
        ch01::SignalEvents signals{SIGCHLD, SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGUSR1};
        Fd listener = listen_on(options.listen, {.nonblock = true});
        ch03::Scoreboard board(static_cast<std::size_t>(config.workers) * 2 + 2);
        Shared<DispatchStats> stats("dispatch counts");
        std::cout << "forklab: listening on " << local_endpoint(listener.get()).to_string()
                  << " pid " << ::getpid() << std::endl;
        return run_master(std::move(listener), board, stats.get(), signals, config);
    } catch (const std::exception& e) {
        std::cerr << program << ": " << e.what() << "\n";
        return 1;
    }
}
//! [setup]

}  // namespace forklab::ch05
