/// \file
/// \brief The fork-per-connection loop (chapter 01; chapter 02 runs it as a daemon).
#include "fork_server.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <sstream>
#include <vector>

#include "acceptor.hpp"
#include "forklab/error.hpp"
#include "forklab/log.hpp"
#include "reap.hpp"
#include "spawn.hpp"

namespace forklab::ch01 {

namespace {

using Clock = std::chrono::steady_clock;

/// The parent's state: what /status shows (a child sees it as it was when it was forked).
struct ForkServer {
    const ForkServerConfig& config;
    Fd listener;
    Acceptor acceptor;
    // Reserved once for max_children: the parent allocates nothing per connection (see the page).
    std::vector<pid_t> children;
    unsigned long accepted = 0;
    unsigned long abnormal_exits = 0;
    enum class Mode { running, graceful, fast } mode = Mode::running;
    Clock::time_point stop_deadline{};
    Clock::time_point paused_until{};

    ForkServer(const ForkServerConfig& c, Fd l)
        : config(c), listener(std::move(l)), acceptor(listener.get()) {
        children.reserve(static_cast<std::size_t>(config.max_children));
    }

    [[nodiscard]] std::string status(bool json) const;
    void serve_in_child(Fd conn);
    void accept_ready();
    void reap();
    void on_signal(int sig);
    void stop(Mode how);
    int poll_timeout() const;
};

std::string ForkServer::status(bool json) const {
    std::ostringstream out;
    if (json) {
        out << "{\"design\":\"fork per connection\",\"parent_pid\":" << ::getppid()
            << ",\"children\":" << children.size() << ",\"max_children\":" << config.max_children
            << ",\"accepted\":" << accepted << ",\"abnormal_exits\":" << abnormal_exits << "}\n";
    } else {
        out << "design: fork per connection\nparent pid: " << ::getppid()
            << "\nchildren: " << children.size() << "\nmax children: " << config.max_children
            << "\naccepted: " << accepted << "\nabnormal exits: " << abnormal_exits << "\n";
    }
    return out.str();
}

//! [fork_per_connection]
void ForkServer::serve_in_child(Fd conn) {
    try {
        // SIGINT and SIGQUIT from a terminal go to the whole process group: the children ignore
        // them and finish their request; the parent decides how the server stops.
        pid_t pid = spawn(
            [&] {
                listener.reset();  // the child's copy of the listener: not ours to accept on
                acceptor.drop_spare();
                log::set_role("child");
                AppContext app{config.drills, [this](bool json) { return status(json); }};
                serve_one(std::move(conn), app, config.limits);
                return 0;
            },
            {SIGINT, SIGQUIT});
        children.push_back(pid);
        ++accepted;
    } catch (const std::system_error& e) {
        log::line(e.what(), ": dropping the connection, pausing accepts for ", Acceptor::backoff_ms,
                  " ms");
        paused_until = Clock::now() + std::chrono::milliseconds(Acceptor::backoff_ms);
    }
    // The parent's copy of the connection closes here (conn's destructor), or the client would
    // never see end-of-file after the child's response.
}
//! [fork_per_connection]

void ForkServer::accept_ready() {
    // Drain the queue, but never past the cap: at the cap we stop polling the listener until a
    // child exits, so a flood cannot fork-bomb the machine.
    while (listener && static_cast<long>(children.size()) < config.max_children) {
        AcceptResult r = acceptor.accept();
        switch (r.status) {
            case AcceptStatus::accepted:
                serve_in_child(std::move(r.conn));
                continue;
            case AcceptStatus::retry:
                continue;
            case AcceptStatus::shed:
                log::line("out of descriptors: shed one queued connection");
                continue;
            case AcceptStatus::backoff:
                log::line("accept: ", std::strerror(r.error), ": pausing accepts");
                paused_until = Clock::now() + std::chrono::milliseconds(Acceptor::backoff_ms);
                return;
            case AcceptStatus::would_block:
                if (mode == Mode::graceful) {
                    listener.reset();  // the queue is drained: now stop taking connections
                }
                return;
        }
    }
}

void ForkServer::reap() {
    for (const ChildExit& end : reap_children()) {
        std::erase(children, end.pid);
        bool stopped_by_us = mode == Mode::fast && end.signaled() && end.signal() == SIGTERM;
        if (!end.clean() && !stopped_by_us) {
            ++abnormal_exits;
            log::line("child ", end.pid, " ", end.describe());
        }
    }
}

void ForkServer::stop(Mode how) {
    if (mode != Mode::running && !(how == Mode::fast && mode == Mode::graceful)) {
        return;  // already stopping (a fast stop may still overtake a graceful one)
    }
    mode = how;
    stop_deadline = Clock::now() + std::chrono::milliseconds(config.graceful_timeout_ms);
    if (how == Mode::fast) {
        listener.reset();
        log::line("fast stop: terminating ", children.size(), " children");
        for (pid_t pid : children) {
            ::kill(pid, SIGTERM);
        }
    } else {
        log::line("graceful stop: serving what is queued, waiting for ", children.size(),
                  " children");
    }
}

void ForkServer::on_signal(int sig) {
    switch (sig) {
        case SIGCHLD:
            reap();
            break;
        case SIGTERM:
        case SIGINT:
            stop(config.term_is_graceful ? Mode::graceful : Mode::fast);
            break;
        case SIGQUIT:
            stop(Mode::graceful);
            break;
        case SIGUSR1:
            log::reopen();
            break;
        default:
            break;
    }
}

int ForkServer::poll_timeout() const {
    auto now = Clock::now();
    auto ms_to = [&](Clock::time_point t) {
        return static_cast<int>(std::max<long>(
            0, std::chrono::duration_cast<std::chrono::milliseconds>(t - now).count() + 1));
    };
    int timeout = mode == Mode::running ? -1 : ms_to(stop_deadline);
    if (paused_until > now) {
        int pause = ms_to(paused_until);
        timeout = timeout < 0 ? pause : std::min(timeout, pause);
    }
    return timeout;
}

}  // namespace

//! [parent_loop]
int run_fork_server(Fd listener, SignalEvents& signals, const ForkServerConfig& config) {
    set_nonblocking(listener.get());
    ForkServer server(config, std::move(listener));
    for (;;) {
        if (server.mode == ForkServer::Mode::graceful) {
            server.accept_ready();  // serve what is queued; closes the listener once it is empty
        }
        if (server.mode != ForkServer::Mode::running && server.children.empty() &&
            !server.listener) {
            break;
        }
        if (server.mode != ForkServer::Mode::running && Clock::now() >= server.stop_deadline) {
            log::line("stop timed out: killing ", server.children.size(), " children");
            for (pid_t pid : server.children) {
                ::kill(pid, SIGKILL);
            }
            for (pid_t pid : server.children) {
                while (::waitpid(pid, nullptr, 0) == -1 && errno == EINTR) {
                }
            }
            server.children.clear();
            break;
        }
        bool accepting = server.listener &&
                         static_cast<long>(server.children.size()) < config.max_children &&
                         Clock::now() >= server.paused_until;
        pollfd fds[2] = {{signals.fd(), POLLIN, 0},
                         {accepting ? server.listener.get() : -1, POLLIN, 0}};
        int n = ::poll(fds, 2, server.poll_timeout());
        if (n == -1 && errno != EINTR) {
            throw_errno("poll");
        }
        if (fds[0].revents & POLLIN) {
            for (int sig : signals.take()) {
                server.on_signal(sig);
            }
        }
        if (fds[1].revents & POLLIN) {
            server.accept_ready();
        }
    }
    log::line("stopped; ", server.accepted, " connections served");
    return 0;
}
//! [parent_loop]

}  // namespace forklab::ch01
