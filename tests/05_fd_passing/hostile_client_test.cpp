/// \file
/// \brief Chapter 05 against clients that ask for big responses and never read them: a worker's
/// memory stays bounded, whatever the number of such clients.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>

#include <vector>

#include "fd_passing_support.hpp"
#include "harness/proc.hpp"
#include "harness/server.hpp"
#include "harness/wait.hpp"

namespace forklab::test {
namespace {

using namespace std::chrono_literals;

/// True when every one of \p clients has bytes waiting to be read.
bool all_readable(const std::vector<Client>& clients) {
    std::vector<pollfd> fds;
    for (const Client& c : clients) {
        fds.push_back({c.fd(), POLLIN, 0});
    }
    return ::poll(fds.data(), fds.size(), 0) == static_cast<int>(fds.size());
}

TEST(HostileClients, ClientsThatNeverReadBigResponsesDoNotGrowTheWorker) {
    Server server({"--workers", "1"});
    ASSERT_TRUE(server.ready());
    std::vector<pid_t> workers = wait_for_workers(server.pid(), server.port(), 1);
    ASSERT_EQ(workers.size(), 1u);
    pid_t worker = workers[0];
    long before = status_kib(worker, "VmRSS");
    ASSERT_GT(before, 0);
    // 16 clients, each asking for the largest body (16 MiB) and reading none of it: a worker that
    // builds each response whole holds 256 MiB for them until the write timeout.
    constexpr int clients_n = 16;
    std::vector<Client> clients;
    for (int i = 0; i < clients_n; ++i) {
        clients.emplace_back(server.port());
        int small = 64 << 10;  // keep the kernel's side small too: this test is about the worker
        ::setsockopt(clients.back().fd(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
        ASSERT_TRUE(clients.back().get("/bytes/16777216"));
    }
    // Every response has begun (its head is waiting in each client's socket): the worker has
    // started to answer all of them, and stopped where each socket is full.
    ASSERT_TRUE(eventually([&] { return all_readable(clients); }, 10s))
        << "not every client got the start of its response";
    long peak = status_kib(worker, "VmHWM");  // the most the worker ever held, so far
    long after = status_kib(worker, "VmRSS");
    constexpr long body_kib = 16 << 10;
    EXPECT_LT(peak - before, 2 * body_kib)
        << "the worker's resident memory went from " << before << " KiB to a peak of " << peak
        << " KiB (" << after << " KiB now) for " << clients_n
        << " clients that read nothing: are responses built whole instead of as the socket "
           "drains?";
}

}  // namespace
}  // namespace forklab::test
