/// \file
/// \brief Chapter 05: a master that accepts and passes connections to epoll workers.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <iostream>

#include "01_fork_server/signals.hpp"
#include "03_prefork_flock/scoreboard.hpp"
#include "dispatch.hpp"
#include "forklab/cli.hpp"
#include "forklab/log.hpp"
#include "forklab/net.hpp"
#include "master.hpp"
#include "route.hpp"
#include "stats.hpp"

int main(int argc, char** argv) {
    forklab::ServerOptions options;
    forklab::ch05::MasterConfig config;
    forklab::ch05::ConnectionLimits& limits = config.limits;
    config.workers = std::clamp(::sysconf(_SC_NPROCESSORS_ONLN), 1L,
                                static_cast<long>(forklab::ch05::max_workers));
    forklab::Cli cli("ch05_fd_passing",
                     "Chapter 05: a master passes accepted connections to epoll workers.");
    forklab::add_server_options(cli, options);
    cli.option("workers", "worker processes (default: one per core)", config.workers, 1,
               static_cast<long>(forklab::ch05::max_workers));
    cli.option("route", "KEY-SOURCE",
               "one worker per key: header:NAME (a request header) or path (its first segment)",
               [&](const std::string& v) {
                   auto route = forklab::ch05::parse_route(v);
                   if (!route) {
                       return std::string("expects header:NAME or path");
                   }
                   config.route = *route;
                   return std::string();
               });
    cli.seconds("keepalive-timeout", "close a keep-alive connection idle this long (default 5)",
                limits.keepalive_timeout_ms, 3600);
    cli.option("max-connections", "connections per worker at most (default 4096)",
               limits.max_connections, 1, 1000000);
    if (auto code = cli.parse(argc, argv)) {
        return *code;
    }
    limits.read_timeout_ms = options.read_timeout_ms;
    config.graceful_timeout_ms = options.graceful_timeout_ms;
    config.drills = options.drills;
    // A worker cannot hold more connections than it has descriptors: keep the cap below the limit
    // (received descriptors count against RLIMIT_NOFILE like any other).
    rlimit nofile{};
    if (::getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur != RLIM_INFINITY) {
        limits.max_connections =
            std::clamp(static_cast<long>(nofile.rlim_cur) - 32, 1L, limits.max_connections);
    }
    try {
        forklab::ch01::ignore_sigpipe();
        forklab::log::init("master", options.log_file);
        // Before anything forks: every signal becomes an event of the master's loop.
        forklab::ch01::SignalEvents signals{SIGCHLD, SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGUSR1};
        forklab::Fd listener = forklab::listen_on(options.listen, {.nonblock = true});
        forklab::ch03::Scoreboard board(static_cast<std::size_t>(config.workers) * 2 + 2);
        forklab::ch05::SharedStats stats;
        std::cout << "forklab: listening on " << forklab::local_endpoint(listener.get()).to_string()
                  << " pid " << ::getpid() << std::endl;
        return forklab::ch05::run_master(std::move(listener), board, stats.get(), signals, config);
    } catch (const std::exception& e) {
        std::cerr << "ch05_fd_passing: " << e.what() << "\n";
        return 1;
    }
}
