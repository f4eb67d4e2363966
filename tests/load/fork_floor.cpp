/// \file
/// \brief fork_floor: the least a fork-per-connection server can cost, as a row of the bench.
///
/// Stevens' serv01 in the kit's contract: the parent accepts and forks one child per connection;
/// the child reads until a request's terminating "\r\n\r\n", writes the ceiling's fixed answer
/// with `Connection: close` (fixed_answer.hpp; it parses nothing else), and ends in `_exit`; the
/// parent closes its copy of the connection and reaps children when SIGCHLD says some ended. It
/// keeps the same loop as chapter 01 (poll on the listener and the signal pipe, a non-blocking
/// accept drained each time), so the row measures what the design itself costs: accept, fork, a
/// child's first page faults, exit and wait. What chapter 01 spends above this row is the price of
/// its code, not of forking.
///
/// `--listen`, one readiness line, TERM/INT stop: the parent stops accepting, waits for its
/// children (each bounded by a 5 s read timeout) and exits 0.
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <iostream>
#include <string_view>

#include "01_fork_server/signals.hpp"
#include "fixed_answer.hpp"
#include "forklab/cli.hpp"
#include "forklab/error.hpp"
#include "forklab/net.hpp"

namespace {

//! [floor_child]
/// The whole child: one request read (at most 5 s), one fixed answer, no heap, no logging.
/// Never returns.
[[noreturn]] void serve_child(int conn, const forklab::load::FixedAnswers& answers) {
    forklab::ch01::reset_signals_in_child();  // the parent's handlers are not the child's
    timeval limit{5, 0};
    (void)::setsockopt(conn, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);  // best effort
    char buf[4096];
    std::size_t have = 0;
    while (have < sizeof buf) {
        ssize_t n = ::read(conn, buf + have, sizeof buf - have);
        if (n == -1 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            ::_exit(0);  // the client left, or never finished its request
        }
        have += static_cast<std::size_t>(n);
        std::string_view in(buf, have);
        if (in.find("\r\n\r\n") != std::string_view::npos) {
            const std::string& out = answers.closing(in);  // one request per connection
            ssize_t sent = ::send(conn, out.data(), out.size(), MSG_NOSIGNAL);
            ::_exit(sent == static_cast<ssize_t>(out.size()) ? 0 : 1);
        }
    }
    ::_exit(1);  // a head longer than the buffer: not a request this row answers
}
//! [floor_child]

}  // namespace

int main(int argc, char** argv) {
    forklab::Endpoint at{"127.0.0.1", 8080};
    forklab::Cli cli("fork_floor", "A minimal fork-per-connection responder: the bench's floor.");
    cli.option("listen", "address to listen on (default 127.0.0.1:8080; port 0 = any free port)",
               at);
    if (auto code = cli.parse(argc, argv)) {
        return *code;
    }
    try {
        forklab::ch01::ignore_sigpipe();
        forklab::ch01::SignalEvents signals{SIGCHLD, SIGTERM, SIGINT};
        forklab::Fd listener = forklab::listen_on(at, {.nonblock = true});
        std::cout << "forklab: listening on " << forklab::local_endpoint(listener.get()).to_string()
                  << " pid " << ::getpid() << std::endl;
        const forklab::load::FixedAnswers answers;
        long children = 0;
        bool running = true;
        while (running || children > 0) {
            pollfd fds[2] = {{signals.fd(), POLLIN, 0}, {running ? listener.get() : -1, POLLIN, 0}};
            if (::poll(fds, 2, -1) == -1 && errno != EINTR) {
                forklab::throw_errno("poll");
            }
            for (int sig : signals.take()) {
                running = running && sig == SIGCHLD;
            }
            while (::waitpid(-1, nullptr, WNOHANG) > 0) {
                --children;
            }
            // Drain the accept queue: bounded by what is queued.
            while (running && (fds[1].revents & POLLIN) != 0) {
                int conn = ::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC);
                if (conn == -1) {
                    if (errno == EINTR || errno == ECONNABORTED) {
                        continue;
                    }
                    if (errno != EAGAIN) {
                        ::usleep(10000);  // EMFILE, ENOBUFS ...: no spin, try again later
                    }
                    break;
                }
                pid_t pid = ::fork();
                if (pid == 0) {
                    listener.reset();
                    serve_child(conn, answers);
                }
                ::close(conn);  // the child's copy serves; a failed fork drops the connection
                if (pid == -1) {
                    ::usleep(10000);  // EAGAIN, ENOMEM: no spin, accept again later
                    break;
                }
                ++children;
            }
        }
        return 0;
    } catch (const std::exception& e) {
        std::cerr << "fork_floor: " << e.what() << "\n";
        return 1;
    }
}
