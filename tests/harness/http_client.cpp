/// \file
/// \brief The tests' HTTP client.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "forklab/error.hpp"
#include "harness/http_client.hpp"

namespace forklab::test {

namespace {

using Clock = std::chrono::steady_clock;

int ms_left(Clock::time_point deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    return static_cast<int>(std::max<long>(0, left.count()));
}

/// Reads what is available within the deadline: >0 bytes, 0 at EOF, -1 on error (error set).
ssize_t read_some(int fd, std::string& into, Clock::time_point deadline, std::string& error) {
    for (;;) {
        pollfd p{fd, POLLIN, 0};
        int n = ::poll(&p, 1, ms_left(deadline));
        if (n == 0) {
            error = "timeout";
            return -1;
        }
        if (n == -1 && errno == EINTR) {
            continue;
        }
        char buf[65536];
        ssize_t got = ::read(fd, buf, sizeof buf);
        if (got > 0) {
            into.append(buf, static_cast<std::size_t>(got));
            return got;
        }
        if (got == 0) {
            return 0;
        }
        if (errno == EINTR) {
            continue;
        }
        error = errno == ECONNRESET ? "reset" : std::string("read: ") + std::strerror(errno);
        return -1;
    }
}

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
}

}  // namespace

std::string HttpReply::header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? std::string() : it->second;
}

Fd connect_to(int port, int rcvbuf) {
    Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd) {
        throw_errno("socket");
    }
    if (rcvbuf > 0 && ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf) == -1) {
        throw_errno("setsockopt SO_RCVBUF");
    }
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    // No retry on EINTR: the test process catches no signal, and a connect() interrupted after it
    // started could not simply be repeated (EALREADY).
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == -1) {
        throw_errno("connect 127.0.0.1:" + std::to_string(port));
    }
    return fd;
}

bool send_all(int fd, const std::string& bytes) {
    return write_all(fd, bytes.data(), bytes.size());
}

std::size_t parse_reply(const std::string& in, HttpReply& reply, bool head) {
    std::size_t head_end = in.find("\r\n\r\n");
    if (head_end == std::string::npos) {
        return 0;
    }
    reply = HttpReply();
    std::string head_text = in.substr(0, head_end);
    std::size_t eol = head_text.find("\r\n");
    std::string status_line = head_text.substr(0, eol);
    if (status_line.rfind("HTTP/1.", 0) != 0 || status_line.size() < 12) {
        reply.error = "bad status line: " + status_line;
        return head_end + 4;
    }
    reply.status = std::atoi(status_line.c_str() + 9);
    for (std::size_t pos = eol; pos != std::string::npos && pos < head_text.size();) {
        std::size_t start = pos + 2;
        std::size_t next = head_text.find("\r\n", start);
        std::string field =
            head_text.substr(start, next == std::string::npos ? std::string::npos : next - start);
        std::size_t colon = field.find(':');
        if (colon != std::string::npos) {
            std::string value = field.substr(colon + 1);
            value.erase(0, value.find_first_not_of(' '));
            reply.headers[lower(field.substr(0, colon))] = value;
        }
        pos = next;
    }
    if (reply.headers.find("content-length") == reply.headers.end()) {
        reply.error = "no Content-Length";
        return head_end + 4;
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

HttpReply read_reply(int fd, std::string& buffered, std::chrono::milliseconds timeout, bool head) {
    HttpReply reply;
    auto deadline = Clock::now() + timeout;
    for (;;) {
        if (std::size_t used = parse_reply(buffered, reply, head)) {
            buffered.erase(0, used);
            return reply;
        }
        ssize_t n = read_some(fd, buffered, deadline, reply.error);
        if (n <= 0) {
            if (n == 0) {
                reply.error = buffered.empty()                                 ? "eof"
                              : buffered.find("\r\n\r\n") == std::string::npos ? "eof in head"
                                                                               : "eof in body";
            }
            return reply;
        }
    }
}

HttpReply read_reply(int fd, std::chrono::milliseconds timeout, bool head) {
    std::string buffered;
    HttpReply reply = read_reply(fd, buffered, timeout, head);
    if (reply.complete && !buffered.empty()) {
        reply.complete = false;
        reply.error = "more bytes than Content-Length";
    }
    return reply;
}

bool closed_within(int fd, std::chrono::milliseconds timeout) {
    auto deadline = Clock::now() + timeout;
    std::string extra;
    std::string error;
    ssize_t n = read_some(fd, extra, deadline, error);
    return n == 0 || (n == -1 && error == "reset");
}

HttpReply get(int port, const std::string& path, std::chrono::milliseconds timeout) {
    return exchange(port, "GET " + path + " HTTP/1.1\r\nHost: localhost\r\n\r\n", timeout);
}

HttpReply exchange(int port, const std::string& raw, std::chrono::milliseconds timeout) {
    HttpReply reply;
    Fd fd;
    try {
        fd = connect_to(port);
    } catch (const std::system_error& e) {
        reply.error = e.what();
        return reply;
    }
    if (!send_all(fd.get(), raw)) {
        reply.error = std::string("send: ") + std::strerror(errno);
        return reply;
    }
    return read_reply(fd.get(), timeout, raw.rfind("HEAD ", 0) == 0);
}

}  // namespace forklab::test
