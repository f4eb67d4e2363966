/// \file
/// \brief ceiling: the most this machine can do, as the first row of the bench.
///
/// A minimal epoll responder that parses nothing: a read holding a request's terminating
/// "\r\n\r\n" is answered with a fixed `200` response, `Hello, world\n`, one per terminator. The
/// one exception, so that Stevens' workload has a ceiling too: a read that starts with
/// `GET /bytes/4000 ` is answered with 4000 bytes. A connection stays open unless the read holds
/// "Connection: close"; then it is closed after the answer (the server closes first). It buffers
/// nothing: a terminator split between two reads goes unanswered and an answer the socket cannot
/// take at once closes the connection; the kit's load client never causes either.
///
/// One process per core (`--processes`), each with its own SO_REUSEPORT listener on the same
/// port, so the kernel spreads connections over them and no lock or hand-off is involved. The
/// master binds first (port 0: the kernel picks), the others bind the port it got. It keeps the
/// kit's server contract: `--listen`, one readiness line naming the master, TERM/INT stop (the
/// signals reach the loop through the self-pipe), every worker reaped before the master exits.
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <functional>
#include <iostream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "01_fork_server/acceptor.hpp"
#include "01_fork_server/reap.hpp"
#include "01_fork_server/signals.hpp"
#include "01_fork_server/spawn.hpp"
#include "fixed_answer.hpp"
#include "forklab/cli.hpp"
#include "forklab/error.hpp"
#include "forklab/log.hpp"
#include "forklab/net.hpp"

namespace {

/// Answers what \p fd has sent. Returns false when the connection is to be closed.
bool answer(int fd, std::string_view in, const forklab::load::FixedAnswers& answers) {
    bool close = false;
    const std::string& out = answers.for_request(in, close);
    std::size_t requests = 0;
    for (std::size_t p = in.find("\r\n\r\n"); p != std::string_view::npos;
         p = in.find("\r\n\r\n", p + 4)) {
        ++requests;
    }
    for (std::size_t i = 0; i < requests; ++i) {
        ssize_t n = ::send(fd, out.data(), out.size(), MSG_NOSIGNAL);
        if (n != static_cast<ssize_t>(out.size())) {
            return false;  // EPIPE, ECONNRESET, or a full socket: no buffering here
        }
    }
    return !(close && requests > 0);
}

/// Serves connections from \p listener. Whenever \p stop_fd is readable (a byte or end-of-file),
/// calls \p carry_on and returns unless it says true (it must consume what made stop_fd readable,
/// or the loop would spin). Throws std::system_error naming the call if epoll fails.
void serve(int listener, int stop_fd, const std::function<bool()>& carry_on) {
    forklab::Fd ep(::epoll_create1(EPOLL_CLOEXEC));
    if (!ep) {
        forklab::throw_errno("epoll_create1");
    }
    for (int fd : {listener, stop_fd}) {
        epoll_event ev{EPOLLIN, {.fd = fd}};
        if (::epoll_ctl(ep.get(), EPOLL_CTL_ADD, fd, &ev) == -1) {
            forklab::throw_errno("epoll_ctl");
        }
    }
    forklab::ch01::Acceptor acceptor(listener, true);
    const forklab::load::FixedAnswers answers;
    epoll_event events[128];
    char buf[16384];
    for (;;) {
        int n = ::epoll_wait(ep.get(), events, 128, -1);
        if (n == -1 && errno != EINTR) {
            forklab::throw_errno("epoll_wait");
        }
        for (int k = 0; k < n; ++k) {
            int fd = events[k].data.fd;
            if (fd == stop_fd) {
                if (!carry_on()) {
                    return;  // open connections close with the process
                }
                continue;
            }
            if (fd == listener) {
                // Drain the accept queue; bounded by what is queued (shed and retry consume one).
                for (;;) {
                    forklab::ch01::AcceptResult r = acceptor.accept();
                    if (r.status == forklab::ch01::AcceptStatus::accepted) {
                        int c = r.conn.release();
                        epoll_event ev{EPOLLIN, {.fd = c}};
                        if (::epoll_ctl(ep.get(), EPOLL_CTL_ADD, c, &ev) == -1) {
                            ::close(c);  // ENOMEM, ENOSPC: turn this one away
                        }
                    } else if (r.status == forklab::ch01::AcceptStatus::backoff) {
                        std::this_thread::sleep_for(
                            std::chrono::milliseconds(forklab::ch01::Acceptor::backoff_ms));
                        break;
                    } else if (r.status == forklab::ch01::AcceptStatus::would_block) {
                        break;
                    }
                }
                continue;
            }
            ssize_t got = ::read(fd, buf, sizeof buf);
            if (got == -1 && (errno == EAGAIN || errno == EINTR)) {
                continue;  // nothing after all: level-triggered, it comes back when there is
            }
            if (got <= 0 ||
                !answer(fd, std::string_view(buf, static_cast<std::size_t>(got)), answers)) {
                ::close(fd);  // end-of-file, ECONNRESET, or answered with a close
            }
        }
    }
}

/// Waits (at most \p limit) for \p workers to exit, then kills what is left; reaps them all.
/// Returns true when every worker exited cleanly by itself.
bool reap_workers(std::vector<pid_t>& workers, std::chrono::milliseconds limit) {
    bool clean = true;
    bool killed = false;
    auto deadline = std::chrono::steady_clock::now() + limit;
    // Bounded: after the deadline every worker is sent SIGKILL, which cannot be caught.
    while (!workers.empty()) {
        for (const forklab::ch01::ChildExit& e : forklab::ch01::reap_children()) {
            std::erase(workers, e.pid);
            if (!e.clean()) {
                forklab::log::line("worker ", e.pid, " ", e.describe());
                clean = false;
            }
        }
        if (!workers.empty() && !killed && std::chrono::steady_clock::now() > deadline) {
            for (pid_t pid : workers) {
                forklab::log::line("worker ", pid, " did not stop: killing it");
                (void)::kill(pid, SIGKILL);  // cannot fail: the pid is ours until reaped
            }
            clean = false;
            killed = true;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return clean;
}

}  // namespace

int main(int argc, char** argv) {
    forklab::Endpoint at{"127.0.0.1", 8080};
    long processes = std::max(1L, ::sysconf(_SC_NPROCESSORS_ONLN));
    forklab::Cli cli("ceiling", "A minimal epoll responder: the bench's ceiling row.");
    cli.option("listen", "address to listen on (default 127.0.0.1:8080; port 0 = any free port)",
               at);
    cli.option("processes", "how many processes serve (default: one per core)", processes, 1, 64);
    if (auto code = cli.parse(argc, argv)) {
        return *code;
    }
    try {
        forklab::log::init("ceiling");
        forklab::ch01::ignore_sigpipe();
        forklab::ch01::SignalEvents signals{SIGTERM, SIGINT, SIGCHLD};
        const forklab::ListenOptions options{.nonblock = true, .reuseport = true};
        forklab::Fd listener = forklab::listen_on(at, options);
        at = forklab::local_endpoint(listener.get());  // the port the kernel picked
        // Workers stop at end-of-file on this pipe: when the master closes it, or dies.
        forklab::Pipe stop = forklab::make_pipe();
        std::vector<pid_t> workers;
        for (long i = 1; i < processes; ++i) {
            workers.push_back(forklab::ch01::spawn([&] {
                forklab::log::set_role("ceiling worker");
                stop.write_end.reset();
                listener.reset();
                forklab::Fd own = forklab::listen_on(at, options);
                serve(own.get(), stop.read_end.get(), [] { return false; });
                return 0;
            }));
        }
        std::cout << "forklab: listening on " << at.to_string() << " pid " << ::getpid()
                  << std::endl;
        // The master serves too, until a signal makes the self-pipe readable: TERM and INT stop
        // it, and so does a worker's death (a ceiling short of a process is no ceiling).
        int code = 0;
        serve(listener.get(), signals.fd(), [&] {
            bool running = true;
            for (int sig : signals.take()) {
                running = running && sig == SIGCHLD;
            }
            for (const forklab::ch01::ChildExit& e : forklab::ch01::reap_children()) {
                std::erase(workers, e.pid);
                forklab::log::line("worker ", e.pid, " ", e.describe(), ": stopping");
                running = false;
                code = 1;
            }
            return running;
        });
        listener.reset();
        stop.write_end.reset();
        return reap_workers(workers, std::chrono::seconds(5)) ? code : 1;
    } catch (const std::exception& e) {
        std::cerr << "ceiling: " << e.what() << "\n";
        return 1;
    }
}
