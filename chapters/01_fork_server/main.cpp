/// \file
/// \brief Chapter 01: one child process per connection.
///
/// The parent accepts; each connection gets a fresh child that serves one request and exits.
/// The parent reaps children on every SIGCHLD event, caps how many live at once, and on TERM/INT
/// stops accepting and lets the children finish.
#include <unistd.h>

#include <csignal>
#include <iostream>

#include "fork_server.hpp"
#include "forklab/cli.hpp"
#include "forklab/log.hpp"
#include "forklab/net.hpp"
#include "signals.hpp"

int main(int argc, char** argv) {
    forklab::ServerOptions options;
    long max_children = 64;
    forklab::Cli cli("ch01_fork_server",
                     "Chapter 01: a server that forks one child per connection.");
    forklab::add_server_options(cli, options);
    cli.option("max-children", "live children at most; at the cap accepting pauses (default 64)",
               max_children, 1, 100000);
    if (auto code = cli.parse(argc, argv)) {
        return *code;
    }
    try {
        forklab::ch01::ignore_sigpipe();
        forklab::log::init("parent", options.log_file);
        //! [setup]
        forklab::ch01::SignalEvents signals{SIGCHLD, SIGTERM, SIGINT, SIGQUIT, SIGUSR1};
        forklab::Fd listener = forklab::listen_on(options.listen);
        forklab::Endpoint bound = forklab::local_endpoint(listener.get());
        std::cout << "forklab: listening on " << bound.to_string() << " pid " << ::getpid()
                  << std::endl;  // the readiness line: exactly one, flushed
        //! [setup]
        forklab::ch01::ForkServerConfig config;
        config.max_children = max_children;
        config.graceful_timeout_ms = options.graceful_timeout_ms;
        config.term_is_graceful = true;
        config.drills = options.drills;
        config.limits.read_timeout_ms = options.read_timeout_ms;
        return forklab::ch01::run_fork_server(std::move(listener), signals, config);
    } catch (const std::exception& e) {
        std::cerr << "ch01_fork_server: " << e.what() << "\n";
        return 1;
    }
}
