/// \file
/// \brief ceiling: the most this machine can do, as a row of the bench.
///
/// A minimal epoll responder that parses nothing: each "\r\n\r\n" it reads is answered with a
/// fixed "Hello, world" response (4000 bytes when the read starts with `GET /bytes/4000`); a
/// request containing "Connection: close" is closed after its answer. One process per core, each
/// with its own SO_REUSEPORT listener on the same port. It keeps the kit's server contract:
/// --listen, the readiness line, TERM/INT stop.
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstring>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include "forklab/acceptor.hpp"
#include "forklab/cli.hpp"
#include "forklab/net.hpp"
#include "forklab/process.hpp"
#include "forklab/signals.hpp"

namespace {

constexpr std::string_view response =
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, world\n";
/// The answer to `GET /bytes/4000`: 4000 bytes, as every chapter sends for Stevens' workload.
const std::string& bytes_4000(bool close) {
    static const std::string keep =
        std::string(
            "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: "
            "4000\r\n\r\n") +
        std::string(4000, 'x');
    static const std::string closing =
        std::string(
            "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: 4000\r\n"
            "Connection: close\r\n\r\n") +
        std::string(4000, 'x');
    return close ? closing : keep;
}
constexpr std::string_view response_close =
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n"
    "Connection: close\r\n\r\nHello, world\n";

/// Serves until \p stop_fd is readable. Returns 0.
int serve(forklab::Fd listener, int stop_fd) {
    forklab::Fd ep(::epoll_create1(EPOLL_CLOEXEC));
    forklab::Acceptor acceptor(listener.get(), true);
    epoll_event ev{EPOLLIN, {.fd = listener.get()}};
    ::epoll_ctl(ep.get(), EPOLL_CTL_ADD, listener.get(), &ev);
    ev = {EPOLLIN, {.fd = stop_fd}};
    ::epoll_ctl(ep.get(), EPOLL_CTL_ADD, stop_fd, &ev);
    epoll_event events[128];
    char buf[16384];
    for (;;) {
        int n = ::epoll_wait(ep.get(), events, 128, -1);
        for (int k = 0; k < n; ++k) {
            int fd = events[k].data.fd;
            if (fd == stop_fd) {
                return 0;
            }
            if (fd == listener.get()) {
                for (;;) {
                    forklab::AcceptResult r = acceptor.accept();
                    if (r.status == forklab::AcceptStatus::accepted) {
                        int c = r.conn.release();
                        epoll_event cev{EPOLLIN, {.fd = c}};
                        ::epoll_ctl(ep.get(), EPOLL_CTL_ADD, c, &cev);
                    } else if (r.status != forklab::AcceptStatus::retry &&
                               r.status != forklab::AcceptStatus::shed) {
                        break;
                    }
                }
                continue;
            }
            ssize_t got = ::read(fd, buf, sizeof buf);
            if (got <= 0) {
                ::close(fd);  // also leaves the epoll set
                continue;
            }
            std::string_view in(buf, static_cast<std::size_t>(got));
            bool close = in.find("Connection: close") != std::string_view::npos;
            std::size_t requests = 0;
            for (std::size_t p = in.find("\r\n\r\n"); p != std::string_view::npos;
                 p = in.find("\r\n\r\n", p + 4)) {
                ++requests;
            }
            bool bytes = in.substr(0, 17) == "GET /bytes/4000 H";
            for (std::size_t i = 0; i < requests; ++i) {
                std::string_view out = bytes   ? std::string_view(bytes_4000(close))
                                       : close ? response_close
                                               : response;
                [[maybe_unused]] ssize_t w = ::send(fd, out.data(), out.size(), MSG_NOSIGNAL);
            }
            if (close && requests > 0) {
                ::close(fd);
            }
        }
    }
}

}  // namespace

int main(int argc, char** argv) {
    forklab::Endpoint at{"127.0.0.1", 8080};
    long processes = ::sysconf(_SC_NPROCESSORS_ONLN);
    forklab::Cli cli("ceiling", "A minimal epoll responder: the bench's ceiling row.");
    cli.option("listen", "address to listen on (default 127.0.0.1:8080)", at);
    cli.option("processes", "how many processes serve (default: one per core)", processes, 1, 64);
    if (auto code = cli.parse(argc, argv)) {
        return *code;
    }
    try {
        forklab::ignore_sigpipe();
        forklab::SignalEvents signals{SIGTERM, SIGINT, SIGCHLD};
        forklab::Fd listener = forklab::listen_on(at, {.nonblock = true, .reuseport = true});
        at = forklab::local_endpoint(listener.get());
        std::vector<pid_t> workers;
        forklab::Pipe stop = forklab::make_pipe();
        for (long i = 1; i < processes; ++i) {
            workers.push_back(forklab::spawn([&] {
                stop.write_end.reset();
                listener.reset();
                return serve(forklab::listen_on(at, {.nonblock = true, .reuseport = true}),
                             stop.read_end.get());
            }));
        }
        std::cout << "forklab: listening on " << at.to_string() << " pid " << ::getpid()
                  << std::endl;
        // The master serves too; a signal makes the self-pipe readable, which stops it.
        serve(std::move(listener), signals.fd());
        stop.write_end.reset();  // end-of-file on the stop pipe ends every worker
        for (pid_t pid : workers) {
            ::waitpid(pid, nullptr, 0);
        }
        return 0;
    } catch (const std::exception& e) {
        std::cerr << "ceiling: " << e.what() << "\n";
        return 1;
    }
}
