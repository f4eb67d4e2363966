/// \file
/// \brief Chapter 05's test support.
#include "fd_passing_support.hpp"

#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>

#include "harness/proc.hpp"
#include "harness/wait.hpp"

namespace forklab::test {

namespace {

using Clock = std::chrono::steady_clock;

}  // namespace

std::vector<pid_t> wait_for_workers(pid_t master, int port, std::size_t n) {
    std::vector<pid_t> out;
    eventually(
        [&] {
            std::string status = get(port, "/status?json", std::chrono::seconds(2)).body;
            return json_numbers(status, "pid").size() == n &&
                   status.find("\"starting\"") == std::string::npos &&
                   (out = live_children(master)).size() == n;
        },
        std::chrono::seconds(5));
    return out;
}

void raise_fd_limit() {
    rlimit r{};
    if (::getrlimit(RLIMIT_NOFILE, &r) == 0) {
        r.rlim_cur = std::min<rlim_t>(r.rlim_max, 16384);
        ::setrlimit(RLIMIT_NOFILE, &r);
    }
}

std::vector<long> json_numbers(const std::string& json, const std::string& key) {
    std::vector<long> out;
    std::string needle = "\"" + key + "\":";
    for (std::size_t p = json.find(needle); p != std::string::npos; p = json.find(needle, p + 1)) {
        out.push_back(std::strtol(json.c_str() + p + needle.size(), nullptr, 10));
    }
    return out;
}

long cpu_ticks(pid_t pid) {
    std::optional<ProcStat> s = proc_stat(pid);
    return s ? s->utime + s->stime : -1;
}

Client::Client(int port) : fd_(connect_to(port)) {}

bool Client::send(const std::string& raw) {
    return send_all(fd_.get(), raw);
}

bool Client::get(const std::string& path, const std::string& headers) {
    return send("GET " + path + " HTTP/1.1\r\nHost: localhost\r\n" + headers + "\r\n");
}

HttpReply Client::reply(std::chrono::milliseconds timeout, bool head) {
    return read_reply(fd_.get(), in_, timeout, head);
}

bool Client::closed_within(std::chrono::milliseconds timeout) {
    return in_.empty() && test::closed_within(fd_.get(), timeout);
}

std::vector<HttpReply> replies_of(std::vector<Client>& clients, std::chrono::milliseconds timeout) {
    std::vector<HttpReply> out(clients.size());
    std::vector<bool> done(clients.size(), false);
    std::size_t left = clients.size();
    auto deadline = Clock::now() + timeout;
    while (left > 0 && Clock::now() < deadline) {
        std::vector<pollfd> fds;
        std::vector<std::size_t> which;
        for (std::size_t i = 0; i < clients.size(); ++i) {
            if (!done[i]) {
                fds.push_back({clients[i].fd(), POLLIN, 0});
                which.push_back(i);
            }
        }
        if (::poll(fds.data(), fds.size(), 20) <= 0) {
            continue;
        }
        for (std::size_t k = 0; k < fds.size(); ++k) {
            if (fds[k].revents != 0) {
                std::size_t i = which[k];
                out[i] = clients[i].reply(std::chrono::seconds(1));
                done[i] = true;
                --left;
            }
        }
    }
    for (std::size_t i = 0; i < clients.size(); ++i) {
        if (!done[i]) {
            out[i].error = "timeout";
        }
    }
    return out;
}

}  // namespace forklab::test
