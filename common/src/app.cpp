/// \file
/// \brief The routes of the kit's HTTP app.
#include "forklab/app.hpp"

#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <string_view>

namespace forklab {

namespace {

/// Parses the decimal number after \p prefix in \p path, if the whole rest is one.
std::optional<long> number_after(std::string_view path, std::string_view prefix) {
    if (path.substr(0, prefix.size()) != prefix) {
        return std::nullopt;
    }
    std::string_view digits = path.substr(prefix.size());
    long value = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size() || value < 0) {
        return std::nullopt;
    }
    return value;
}

/// What a generated body is made of.
constexpr char generated_byte = 'x';

Response text(int status, std::string body) {
    Response r;
    r.status = status;
    r.body = std::move(body);
    return r;
}

}  // namespace

//! [routes]
Response handle(const http::Request& request, const AppContext& context) {
    if (request.method != "GET" && request.method != "HEAD") {
        Response r = text(405, "only GET and HEAD\n");
        r.close = true;  // the request may carry a body we will not read
        return r;
    }
    Response r = text(404, "not found\n");
    std::string_view path = request.path();
    if (path == "/") {
        r = text(200, "Hello, world\n");
    } else if (path == "/pid") {
        r = text(200, std::to_string(::getpid()) + "\n");
    } else if (path == "/status") {
        bool json = request.query() == "json";
        r = text(200, context.status ? context.status(json)
                                     : (json ? "{}\n" : "no status for this server\n"));
        if (json) {
            r.content_type = "application/json";
        }
    } else if (path.substr(0, 7) == "/bytes/") {
        auto n = number_after(path, "/bytes/");
        r = !n                                              ? text(400, "expects /bytes/N\n")
            : static_cast<std::size_t>(*n) > max_bytes_body ? text(400, "at most 16777216 bytes\n")
                                                            : text(200, "");
        if (r.status == 200) {
            r.content_type = "application/octet-stream";
            r.generated = static_cast<std::size_t>(*n);  // made as it is sent, not here
        }
    } else if (path.substr(0, 7) == "/sleep/") {
        auto ms = number_after(path, "/sleep/");
        r = !ms || *ms > max_sleep_ms ? text(400, "expects /sleep/MS, MS <= 60000\n")
                                      : text(200, "slept " + std::to_string(*ms) + " ms\n");
        r.delay_ms = r.status == 200 ? *ms : 0;
    } else if (context.drills && path == "/crash") {
        r.drill = Drill::crash;
    } else if (context.drills && path == "/hang") {
        r.drill = Drill::hang;
    }
    r.close = r.close || request.has_body || !request.keep_alive;
    return r;
}
//! [routes]

Response error_response(int status) {
    Response r = text(status, std::string(http::reason(status)) + "\n");
    r.close = true;
    return r;
}

void append_head(std::string& out, const Response& response, bool keep_alive) {
    http::append_response_head(out, response.status, response.content_type, response.body_size(),
                               keep_alive && !response.close);
}

std::string serialize_head(const Response& response, bool keep_alive) {
    std::string head;
    head.reserve(128);
    append_head(head, response, keep_alive);
    return head;
}

std::string serialize(const Response& response, bool keep_alive, bool head_only) {
    std::string out = serialize_head(response, keep_alive);
    if (!head_only) {
        out += response.body;
        out.append(response.generated, generated_byte);
    }
    return out;
}

namespace {

/// 64 KiB of generated_byte, made by the compiler: read-only data in the program file, so a
/// forked child that sends it copies nothing and allocates nothing (a buffer built on first use
/// would be built again, 16 pages of faults, in every child).
struct Filler {
    char bytes[64u << 10];
};

constexpr Filler make_filler() {
    Filler f{};
    for (char& b : f.bytes) {
        b = generated_byte;
    }
    return f;
}

constexpr Filler filler = make_filler();

}  // namespace

std::string_view generated_chunk(std::size_t left) {
    return std::string_view(filler.bytes, sizeof filler.bytes).substr(0, left);
}

ssize_t send_some(int fd, std::string_view& out, std::size_t& generated, int flags) {
    iovec iov[2];
    int parts = 0;
    if (!out.empty()) {
        iov[parts++] = {const_cast<char*>(out.data()), out.size()};
    }
    std::string_view more = generated_chunk(generated);
    if (!more.empty()) {
        iov[parts++] = {const_cast<char*>(more.data()), more.size()};
    }
    ssize_t n = 0;
    if (parts == 1) {
        n = ::send(fd, iov[0].iov_base, iov[0].iov_len, flags);
    } else if (parts == 2) {
        msghdr msg{};
        msg.msg_iov = iov;
        msg.msg_iovlen = 2;
        n = ::sendmsg(fd, &msg, flags);
    }
    if (n > 0) {
        auto wrote = static_cast<std::size_t>(n);
        std::size_t from_out = std::min(wrote, out.size());
        out.remove_prefix(from_out);
        generated -= wrote - from_out;
    }
    return n;
}

}  // namespace forklab
