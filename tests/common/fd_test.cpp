#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include "forklab/fd.hpp"

namespace {

bool is_open(int fd) {
    return ::fcntl(fd, F_GETFD) != -1;
}

TEST(Fd, ClosesOnDestruction) {
    int raw = -1;
    {
        forklab::Fd fd(::open("/dev/null", O_RDONLY));
        raw = fd.get();
        ASSERT_TRUE(is_open(raw));
    }
    EXPECT_FALSE(is_open(raw));
}

TEST(Fd, MoveTransfersOwnership) {
    forklab::Fd a(::open("/dev/null", O_RDONLY));
    int raw = a.get();
    forklab::Fd b(std::move(a));
    EXPECT_FALSE(a.valid());  // NOLINT(bugprone-use-after-move): the moved-from state is the point
    EXPECT_EQ(b.get(), raw);
    forklab::Fd c;
    c = std::move(b);
    EXPECT_EQ(c.get(), raw);
    EXPECT_TRUE(is_open(raw));
}

TEST(Fd, ReleaseGivesUpWithoutClosing) {
    forklab::Fd a(::open("/dev/null", O_RDONLY));
    int raw = a.release();
    EXPECT_FALSE(a.valid());
    EXPECT_TRUE(is_open(raw));
    ::close(raw);
}

TEST(Fd, ResetClosesTheOldDescriptor) {
    forklab::Fd a(::open("/dev/null", O_RDONLY));
    int old = a.get();
    a.reset(::open("/dev/null", O_RDONLY));
    EXPECT_FALSE(is_open(old) && old != a.get());
    a.reset();
    EXPECT_FALSE(a.valid());
}

TEST(Pipe, EndsAreCloseOnExecAndConnected) {
    forklab::Pipe p = forklab::make_pipe();
    EXPECT_TRUE(::fcntl(p.read_end.get(), F_GETFD) & FD_CLOEXEC);
    EXPECT_TRUE(::fcntl(p.write_end.get(), F_GETFD) & FD_CLOEXEC);
    ASSERT_TRUE(forklab::write_all(p.write_end.get(), "abc", 3));
    char buf[4] = {};
    ASSERT_EQ(::read(p.read_end.get(), buf, 3), 3);
    EXPECT_STREQ(buf, "abc");
}

TEST(WriteAll, ReportsAClosedPeerInsteadOfDying) {
    forklab::Pipe p = forklab::make_pipe();
    p.read_end.reset();
    // SIGPIPE is ignored by the test main, as by every server: the failure comes back as EPIPE.
    EXPECT_FALSE(forklab::write_all(p.write_end.get(), "x", 1));
    EXPECT_EQ(errno, EPIPE);
}

}  // namespace
