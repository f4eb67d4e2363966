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
#include <fstream>
#include <sstream>

#include "harness/proc.hpp"
#include "harness/wait.hpp"

namespace forklab::test {

namespace {

using Clock = std::chrono::steady_clock;

/// Parses one reply at the front of \p in (no body after a HEAD); returns how many bytes it used
/// (0: incomplete).
std::size_t parse_reply(const std::string& in, HttpReply& reply, bool head) {
    std::size_t head_end = in.find("\r\n\r\n");
    if (head_end == std::string::npos) {
        return 0;
    }
    reply = HttpReply();
    std::istringstream lines(in.substr(0, head_end));
    std::string line;
    std::getline(lines, line);
    if (line.rfind("HTTP/1.", 0) != 0 || line.size() < 12) {
        reply.error = "bad status line: " + line;
        return head_end + 4;
    }
    reply.status = std::atoi(line.c_str() + 9);
    while (std::getline(lines, line)) {
        if (!line.empty() && line.back() == '\r') {
            line.pop_back();
        }
        std::size_t colon = line.find(':');
        if (colon == std::string::npos) {
            continue;
        }
        std::string name = line.substr(0, colon);
        std::transform(name.begin(), name.end(), name.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        std::string value = line.substr(colon + 1);
        value.erase(0, value.find_first_not_of(' '));
        reply.headers[name] = value;
    }
    std::size_t length =
        head ? 0 : std::strtoul(reply.header("content-length").c_str(), nullptr, 10);
    if (in.size() < head_end + 4 + length) {
        return 0;
    }
    reply.body = in.substr(head_end + 4, length);
    reply.complete = true;
    return head_end + 4 + length;
}

}  // namespace

std::vector<pid_t> workers_of(pid_t master) {
    return live_children(master);
}

std::vector<pid_t> wait_for_workers(pid_t master, int port, std::size_t n) {
    std::vector<pid_t> out;
    eventually(
        [&] {
            std::string status = get(port, "/status?json", std::chrono::seconds(2)).body;
            return json_numbers(status, "pid").size() == n &&
                   status.find("\"starting\"") == std::string::npos &&
                   (out = workers_of(master)).size() == n;
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
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::size_t paren = text.rfind(')');
    if (paren == std::string::npos) {
        return -1;
    }
    std::istringstream fields(text.substr(paren + 2));
    std::string f;
    long utime = 0;
    long stime = 0;
    for (int i = 3; fields >> f; ++i) {  // field 3 is the state
        if (i == 14) {
            utime = std::atol(f.c_str());
        } else if (i == 15) {
            stime = std::atol(f.c_str());
            break;
        }
    }
    return utime + stime;
}

Client::Client(int port) : fd_(connect_to(port)) {}

bool Client::send(const std::string& raw) {
    return send_all(fd_.get(), raw);
}

bool Client::get(const std::string& path, const std::string& headers) {
    return send("GET " + path + " HTTP/1.1\r\nHost: localhost\r\n" + headers + "\r\n");
}

HttpReply Client::reply(std::chrono::milliseconds timeout, bool head) {
    auto deadline = Clock::now() + timeout;
    HttpReply reply;
    for (;;) {
        if (std::size_t used = parse_reply(in_, reply, head)) {
            in_.erase(0, used);
            return reply;
        }
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        pollfd p{fd_.get(), POLLIN, 0};
        int n = ::poll(&p, 1, static_cast<int>(std::max<long>(0, left.count())));
        if (n == 0) {
            reply.error = "timeout";
            return reply;
        }
        if (n == -1) {
            continue;
        }
        char buf[65536];
        ssize_t got = ::read(fd_.get(), buf, sizeof buf);
        if (got > 0) {
            in_.append(buf, static_cast<std::size_t>(got));
        } else if (got == 0 || errno != EINTR) {
            reply.error = got == 0 ? (in_.empty() ? "eof" : "eof in reply") : "reset";
            return reply;
        }
    }
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
