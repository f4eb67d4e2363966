/// \file
/// \brief Chapter 02: chapter 01's server, run as a well-behaved daemon.
///
/// The order of start-up is the lesson: parse, open the log, detach, lock the pid file, bind,
/// drop privileges, and only then let go of the terminal and tell the launcher we are ready.
/// Every error before that point reaches the user's terminal and the launcher's exit code.
#include <unistd.h>

#include <csignal>
#include <sstream>

#include "01_fork_server/fork_server.hpp"
#include "01_fork_server/signals.hpp"
#include "daemon.hpp"
#include "forklab/cli.hpp"
#include "forklab/log.hpp"
#include "forklab/net.hpp"
#include "privileges.hpp"

namespace {

struct Options {
    forklab::ServerOptions server;
    long max_children = 64;
    bool foreground = false;
    std::string pid_file;
    std::string user;
};

}  // namespace

int main(int argc, char** argv) {
    Options o;
    forklab::Cli cli("ch02_daemon", "Chapter 02: the fork-per-connection server as a daemon.");
    forklab::add_server_options(cli, o.server);
    cli.option("max-children", "live children at most (default 64)", o.max_children, 1, 100000);
    cli.flag("foreground", "stay attached to the terminal (for systemd and debugging)",
             o.foreground);
    cli.option("pid-file", "PATH", "write the daemon's pid to PATH and hold it locked", o.pid_file);
    cli.option("user", "NAME", "when started as root, become NAME after binding", o.user);
    if (auto code = cli.parse(argc, argv)) {
        return *code;
    }
    forklab::ch02::Readiness readiness;  // in the foreground: print, keep stdio
    try {
        //! [startup]
        forklab::log::init("daemon", o.server.log_file);  // 1. the log: its errors on the tty
        if (!o.foreground) {
            readiness = forklab::ch02::detach({forklab::log::fd()});  // 2. fork, setsid, fork
        }
        forklab::ch01::ignore_sigpipe();  // after detach(), which resets what the caller ignored
        forklab::ch02::PidFile pid_file;  // 3. the daemon's own pid, under the daemon's own lock
        if (!o.pid_file.empty()) {
            pid_file = forklab::ch02::PidFile::acquire(o.pid_file);
        }
        forklab::Fd listener = forklab::listen_on(o.server.listen);  // 4. bind, maybe as root
        forklab::Endpoint bound = forklab::local_endpoint(listener.get());
        if (!o.user.empty()) {
            forklab::ch02::drop_privileges(o.user);  // 5. nothing after this needs root
        }
        forklab::ch01::SignalEvents signals{SIGCHLD, SIGTERM, SIGINT, SIGQUIT, SIGUSR1};  // 6.
        std::ostringstream line;
        line << "forklab: listening on " << bound.to_string() << " pid " << ::getpid();
        readiness.ready(line.str());  // 7. stdio to /dev/null, and only now tell the launcher
        forklab::log::line("ready: ", line.str());
        //! [startup]
        forklab::ch01::ForkServerConfig config;
        config.max_children = o.max_children;
        config.graceful_timeout_ms = o.server.graceful_timeout_ms;
        config.term_is_graceful = false;  // TERM/INT fast, QUIT graceful
        config.drills = o.server.drills;
        config.limits.read_timeout_ms = o.server.read_timeout_ms;
        return forklab::ch01::run_fork_server(std::move(listener), signals, config);
    } catch (const std::exception& e) {
        if (forklab::log::fd() != STDERR_FILENO) {
            forklab::log::line("fatal: ", e.what());  // a log file keeps it for later
        }
        readiness.fail(std::string("ch02_daemon: ") + e.what());  // the launcher's stderr
        return 1;
    }
}
