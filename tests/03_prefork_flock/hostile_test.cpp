/// \file
/// \brief Chapter 03 against hostile clients: one worker, and a client that tries to keep it.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include "harness/hostile.hpp"
#include "harness/http_client.hpp"
#include "harness/proc.hpp"
#include "harness/server.hpp"
#include "harness/wait.hpp"

namespace forklab::test {
namespace {

using namespace std::chrono_literals;

// A flood of empty lines keeps the socket readable every instant: it must still be cut (at the
// head limit), and the one worker must serve others while the attacker reconnects and floods.
TEST(Hostile, AFloodOfEmptyLinesIsCutAndOthersAreServedMeanwhile) {
    Server server({"--workers", "1"});
    ASSERT_TRUE(server.ready());
    ASSERT_EQ(get(server.port(), "/").status, 200);
    Flood flood(server.port(), std::string(16384, '\n'), 30s);
    bool served = eventually(
        [&] { return flood.cuts() > 0 && get(server.port(), "/", 2s).status == 200; }, 10s);
    bool during = flood.running();
    flood.stop();
    EXPECT_TRUE(served) << "flood connections cut: " << flood.cuts();
    EXPECT_TRUE(during) << "served only once the flood had ended";
    EXPECT_EQ(get(server.port(), "/").status, 200);
}

// The write deadline (10 s) bounds the whole response. This reader takes 16 KiB every 50 ms, so
// every send makes progress, and 16 MiB would take it about 50 s; a small receive buffer keeps
// the kernel from hiding the pace. The worker must be free again long before that.
TEST(Hostile, ASlowReaderIsCutAtTheWriteDeadline) {
    Server server({"--workers", "1"});
    ASSERT_TRUE(server.ready());
    SlowClient slow(server.port(), "/bytes/16777216");
    bool freed = eventually([&] { return get(server.port(), "/", 2s).status == 200; }, 25s);
    bool still_reading = slow.reading();
    SlowRead seen = slow.stop();
    EXPECT_TRUE(freed) << "the worker still sends to a client that takes a little at a time";
    EXPECT_TRUE(still_reading) << "freed only once the reader had everything";
    EXPECT_LT(seen.bytes, 16u << 20);
}

// A worker blocks in send for one client at a time, but it must not build a 16 MiB body whole
// for a client that reads none of it: the body goes out from one read-only buffer as the socket
// drains, so the worker's memory stays what it was.
TEST(Hostile, ABigBodyForAClientThatReadsNothingIsNeverHeldWhole) {
    Server server({"--workers", "1"});
    ASSERT_TRUE(server.ready());
    std::vector<pid_t> workers;
    ASSERT_TRUE(eventually(
        [&] {
            workers = children_alive_together(server.pid());
            return workers.size() == 1;
        },
        10s));
    pid_t worker = workers[0];
    long before = status_kib(worker, "VmHWM");
    ASSERT_GT(before, 0);
    Fd client = connect_to(server.port(), 64 << 10);  // a small receive buffer: the worker waits
    ASSERT_TRUE(send_all(client.get(), "GET /bytes/16777216 HTTP/1.1\r\nHost: x\r\n\r\n"));
    // The head has arrived: the worker is answering, and now waits for room in the socket.
    ASSERT_TRUE(eventually(
        [&] {
            char byte = 0;
            return ::recv(client.get(), &byte, 1, MSG_PEEK | MSG_DONTWAIT) == 1;
        },
        10s));
    long peak = status_kib(worker, "VmHWM");  // the most the worker ever held
    EXPECT_LT(peak - before, 8 << 10)
        << "the worker's peak memory went from " << before << " KiB to " << peak
        << " KiB for one client: is the body built whole?";
}

}  // namespace
}  // namespace forklab::test
