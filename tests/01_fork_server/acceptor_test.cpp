#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <vector>

#include "01_fork_server/acceptor.hpp"
#include "01_fork_server/spawn.hpp"
#include "forklab/net.hpp"
#include "harness/http_client.hpp"
#include "harness/wait.hpp"

namespace {

using forklab::ch01::AcceptStatus;

struct Listening {
    forklab::Fd fd = forklab::listen_on({"127.0.0.1", 0}, {.backlog = 64, .nonblock = true});
    int port = forklab::local_endpoint(fd.get()).port;
};

TEST(Acceptor, WouldBlockWhenNothingIsQueued) {
    Listening l;
    forklab::ch01::Acceptor acceptor(l.fd.get());
    EXPECT_EQ(acceptor.accept().status, forklab::ch01::AcceptStatus::would_block);
}

TEST(Acceptor, AcceptsAQueuedConnectionCloseOnExec) {
    Listening l;
    forklab::ch01::Acceptor acceptor(l.fd.get());
    forklab::Fd client = forklab::test::connect_to(l.port);
    forklab::ch01::AcceptResult r;
    ASSERT_TRUE(forklab::test::eventually([&] {
        r = acceptor.accept();
        return r.status == forklab::ch01::AcceptStatus::accepted;
    }));
    EXPECT_TRUE(::fcntl(r.conn.get(), F_GETFD) & FD_CLOEXEC);
}

// Out of descriptors, accept keeps failing while the connection stays queued: a level-triggered
// loop would spin. The acceptor must shed the queued connection (its client sees a close), so the
// next attempt finds the queue empty. Runs in a child, which lowers its own descriptor limit.
TEST(Acceptor, ShedsInsteadOfSpinningWhenOutOfDescriptors) {
    pid_t child = forklab::ch01::spawn([] {
        Listening l;
        forklab::ch01::Acceptor acceptor(l.fd.get());
        forklab::Fd client = forklab::test::connect_to(l.port);
        forklab::Fd second = forklab::test::connect_to(l.port);
        // Fill the table: every descriptor below the new limit is in use.
        rlimit lim{};
        ::getrlimit(RLIMIT_NOFILE, &lim);
        std::vector<forklab::Fd> filler;
        for (;;) {
            forklab::Fd fd(::open("/dev/null", O_RDONLY));
            if (!fd) {
                break;
            }
            int n = fd.get();
            filler.push_back(std::move(fd));
            if (n >= 60) {
                break;
            }
        }
        lim.rlim_cur = static_cast<rlim_t>(filler.back().get() + 1);
        ::setrlimit(RLIMIT_NOFILE, &lim);
        forklab::ch01::AcceptResult r = acceptor.accept();
        if (r.status != forklab::ch01::AcceptStatus::shed) {
            return 10 + static_cast<int>(r.status);
        }
        // The victim was closed: the client reads end-of-file (or a reset).
        if (!forklab::test::closed_within(client.get(), std::chrono::seconds(5))) {
            return 20;
        }
        // The spare is back for the next queued client, then the queue is empty: no spin.
        if (acceptor.accept().status != forklab::ch01::AcceptStatus::shed) {
            return 40;
        }
        return acceptor.accept().status == forklab::ch01::AcceptStatus::would_block ? 0 : 30;
    });
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0)
        << "10+status: wrong status; 20: client not closed; 30: spin; 40: no spare the second time";
}

}  // namespace
