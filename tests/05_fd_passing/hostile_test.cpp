/// \file
/// \brief Chapter 05 against hostile clients: framing a proxy could read differently (request
/// smuggling) on keep-alive connections, and a flood of empty lines.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "harness/hostile.hpp"
#include "harness/http_client.hpp"
#include "harness/proc.hpp"
#include "harness/server.hpp"
#include "harness/wait.hpp"

namespace forklab::test {
namespace {

using namespace std::chrono_literals;

/// Sends \p raw on a keep-alive connection; ASSERTs that the one answer is 400 and that the
/// connection then ends with nothing more: whatever followed the head was never served.
void expect_one_400_then_close(int port, const std::string& raw) {
    Fd conn = connect_to(port);
    ASSERT_TRUE(send_all(conn.get(), raw));
    std::string buffered;
    HttpReply reply = read_reply(conn.get(), buffered, 5s);
    EXPECT_EQ(reply.status, 400) << reply.error;
    EXPECT_EQ(buffered, "") << "a second response: the body was served as a request";
    EXPECT_TRUE(closed_within(conn.get(), 5s)) << "a second response, or the connection stays";
}

// Two Content-Length values: a proxy that believes the second forwards the "body" as part of this
// request, while a server that believed the first would serve it as a second request.
TEST(Hostile, ConflictingContentLengthsGet400AndTheBodyIsNeverARequest) {
    Server server({"--workers", "1"});
    ASSERT_TRUE(server.ready());
    std::string smuggled = "GET /pid HTTP/1.1\r\nHost: x\r\n\r\n";
    expect_one_400_then_close(server.port(),
                              "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n"
                              "Content-Length: " +
                                  std::to_string(smuggled.size()) + "\r\n\r\n" + smuggled);
}

// Transfer-Encoding with Content-Length (RFC 9112 section 6.3): refused, and the connection closes.
TEST(Hostile, TransferEncodingWithContentLengthGets400) {
    Server server({"--workers", "1"});
    ASSERT_TRUE(server.ready());
    expect_one_400_then_close(server.port(),
                              "GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                              "Content-Length: 3\r\n\r\n0\r\n\r\nGET /pid HTTP/1.1\r\n\r\n");
}

// A flood of empty lines is cut at the head limit, long before the 60 s read timeout.
TEST(Hostile, AFloodOfEmptyLinesIsCutAtTheHeadLimit) {
    Server server({"--workers", "1", "--read-timeout", "60"});
    ASSERT_TRUE(server.ready());
    Flood flood(server.port(), std::string(16384, '\n'), 30s);
    EXPECT_TRUE(eventually([&] { return flood.cuts() > 0; }, 10s));
    flood.stop();
    EXPECT_EQ(get(server.port(), "/").status, 200);
}

/// Sockets \p pid holds open.
std::size_t sockets_of(pid_t pid) {
    auto fds = fd_targets(pid);
    return static_cast<std::size_t>(std::count_if(
        fds.begin(), fds.end(), [](const auto& t) { return t.rfind("socket:", 0) == 0; }));
}

// A client that takes 16 KiB every 50 ms makes every send progress, and 16 MiB would take it
// about 50 s (a small receive buffer keeps the kernel from hiding the pace). The write timeout is
// a total for the response, not a time without progress: the worker lets the connection go long
// before (the client may still drain what the kernel had queued).
TEST(Hostile, ASlowReaderIsCutAtTheWriteDeadline) {
    Server server({"--workers", "1"});
    ASSERT_TRUE(server.ready());
    ASSERT_TRUE(eventually([&] { return live_children(server.pid()).size() == 1; }));
    pid_t worker = live_children(server.pid()).front();
    std::size_t before = sockets_of(worker);
    SlowClient slow(server.port(), "/bytes/16777216");
    bool held = eventually([&] { return sockets_of(worker) > before; }, 5s);
    bool let_go = held && eventually([&] { return sockets_of(worker) == before; }, 25s);
    bool still_reading = slow.reading();
    SlowRead seen = slow.stop();
    EXPECT_TRUE(held) << "the worker never took the connection";
    EXPECT_TRUE(let_go) << "still sending after 25 s to a client that reads a little at a time";
    EXPECT_TRUE(still_reading) << "let go only once the reader had everything";
    EXPECT_LT(seen.bytes, 16u << 20);
    EXPECT_EQ(get(server.port(), "/").status, 200);
}

}  // namespace
}  // namespace forklab::test
