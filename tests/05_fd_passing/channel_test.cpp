/// \file
/// \brief Unit tests of the channel (exercise 05's seam): send_fd and recv_fd.
///
/// Built twice, with the reference channel and with the student's, and with -fsanitize=alignment:
/// a control buffer that is not aligned for struct cmsghdr works by luck on x86 (which forgives
/// misaligned access) and is undefined behaviour everywhere. The sanitizer reports each faulty
/// place once per process, so one test runs a round trip in a fresh copy of this binary and fails
/// on any report.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "channel.hpp"
#include "harness/http_client.hpp"
#include "harness/proc.hpp"
#include "harness/server.hpp"

namespace forklab::ch05 {
namespace {

/// A channel like the master's: a non-blocking SEQPACKET socketpair.
struct Channel {
    Fd a;
    Fd b;
    Channel() {
        int sv[2];
        EXPECT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
        a.reset(sv[0]);
        b.reset(sv[1]);
    }
};

/// A connected pair standing in for a client connection: `conn` is passed, `client` stays.
struct Conn {
    Fd conn;
    Fd client;
    Conn() {
        int sv[2];
        EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
        conn.reset(sv[0]);
        client.reset(sv[1]);
    }
};

int open_fds() {
    return test::fd_count(::getpid());
}

bool is_open(int fd) {
    return ::fcntl(fd, F_GETFD) != -1;
}

/// Leaves this process exactly \p free descriptor numbers (RLIMIT_NOFILE just above the ones in
/// use, every hole below filled) until destroyed.
class FreeDescriptors {
  public:
    explicit FreeDescriptors(int free) {
        ::getrlimit(RLIMIT_NOFILE, &old_);
        int highest = 0;
        for (int fd = 0; fd < 4096; ++fd) {
            highest = is_open(fd) ? fd : highest;
        }
        for (int fd = 0; fd <= highest; ++fd) {
            if (!is_open(fd)) {
                fillers_.emplace_back(::open("/dev/null", O_RDONLY | O_CLOEXEC));
            }
        }
        rlimit low = old_;
        low.rlim_cur = static_cast<rlim_t>(highest) + 1 + static_cast<rlim_t>(free);
        EXPECT_EQ(::setrlimit(RLIMIT_NOFILE, &low), 0);
    }
    ~FreeDescriptors() { ::setrlimit(RLIMIT_NOFILE, &old_); }
    FreeDescriptors(const FreeDescriptors&) = delete;
    FreeDescriptors& operator=(const FreeDescriptors&) = delete;

  private:
    rlimit old_{};
    std::vector<Fd> fillers_;
};

/// Sends \p bytes through the seam with \p fd attached.
SendStatus send(int channel, const std::string& bytes, Fd& fd) {
    return send_fd(channel, bytes.data(), bytes.size(), fd);
}

/// Receives one message through the seam into \p bytes (at most \p capacity of them).
RecvStatus recv(int channel, std::string& bytes, Fd& fd, std::size_t capacity = 16384) {
    bytes.assign(capacity, '\0');
    std::size_t size = 0;
    RecvStatus status = recv_fd(channel, bytes.data(), capacity, size, fd);
    bytes.resize(status == RecvStatus::received ? size : 0);
    return status;
}

/// Sends \p len bytes with \p nfds copies of \p fd attached, bypassing the seam (for malformed
/// messages). nfds may be 0.
ssize_t raw_send(int channel, const void* data, std::size_t len, int fd, int nfds) {
    iovec iov{const_cast<void*>(data), len};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    union {
        char buf[CMSG_SPACE(4 * sizeof(int))];
        cmsghdr align;
    } control{};
    if (nfds > 0) {
        msg.msg_control = control.buf;
        msg.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
        cmsghdr* c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
        for (int i = 0; i < nfds; ++i) {
            std::memcpy(CMSG_DATA(c) + i * sizeof(int), &fd, sizeof fd);
        }
    }
    return ::sendmsg(channel, &msg, MSG_DONTWAIT);
}

/// The probe: with FORKLAB_CH05_ALIGNMENT_PROBE set, this binary does one round trip through the
/// channel before main and exits; the sanitizer, if anything is misaligned, reports on stderr.
const int alignment_probe = [] {
    if (::getenv("FORKLAB_CH05_ALIGNMENT_PROBE") == nullptr) {
        return 0;
    }
    Channel ch;
    Conn c;
    Message m;
    Fd got;
    std::size_t size = 0;
    send_fd(ch.a.get(), &m, sizeof m, c.conn);
    recv_fd(ch.b.get(), &m, sizeof m, size, got);
    ::_exit(0);
}();

TEST(Channel, TheControlBuffersAreAlignedForCmsghdr) {
    ::setenv("FORKLAB_CH05_ALIGNMENT_PROBE", "1", 1);
    test::RunResult probe = test::run("/proc/self/exe", {});
    ::unsetenv("FORKLAB_CH05_ALIGNMENT_PROBE");
    EXPECT_EQ(probe.exit_code, 0) << probe.err;
    EXPECT_EQ(probe.err.find("misaligned"), std::string::npos)
        << "a control buffer is not aligned for struct cmsghdr (use a union with it):\n"
        << probe.err;
}

TEST(Channel, PassesTheConnectionAndClosesTheSendersCopy) {
    Channel ch;
    Conn c;
    int sent_number = c.conn.get();
    Message m;
    m.command = Command::connection;
    ASSERT_EQ(send_fd(ch.a.get(), &m, sizeof m, c.conn), SendStatus::sent);
    EXPECT_FALSE(c.conn.valid()) << "the Fd must be left empty after a send";
    EXPECT_FALSE(is_open(sent_number)) << "the sender kept its copy of the descriptor";

    Message got{static_cast<Command>(0)};
    std::size_t size = 0;
    Fd fd;
    ASSERT_EQ(recv_fd(ch.b.get(), &got, sizeof got, size, fd), RecvStatus::received);
    ASSERT_TRUE(fd.valid());
    EXPECT_EQ(size, sizeof got);
    EXPECT_EQ(got.command, Command::connection);
    // It is the same connection: what the client writes arrives on the received descriptor.
    ASSERT_EQ(::write(c.client.get(), "ping", 4), 4);
    char buf[8] = {};
    ASSERT_EQ(::read(fd.get(), buf, sizeof buf), 4);
    EXPECT_STREQ(buf, "ping");
    // And the receiver holds the only copy: closing it gives the client end-of-file.
    fd.reset();
    EXPECT_TRUE(test::closed_within(c.client.get(), std::chrono::milliseconds(500)))
        << "no end-of-file: another copy keeps the connection open";
}

TEST(Channel, TheReceivedDescriptorIsCloseOnExec) {
    Channel ch;
    Conn c;
    ASSERT_EQ(send(ch.a.get(), "c", c.conn), SendStatus::sent);
    std::string got;
    Fd fd;
    ASSERT_EQ(recv(ch.b.get(), got, fd), RecvStatus::received);
    ASSERT_TRUE(fd.valid());
    EXPECT_NE(::fcntl(fd.get(), F_GETFD) & FD_CLOEXEC, 0) << "use MSG_CMSG_CLOEXEC";
}

TEST(Channel, BytesTravelWithTheConnection) {
    Channel ch;
    Conn c;
    std::string request = "GET /a HTTP/1.1\r\nX-Route-Key: k\r\n" + std::string(9000, 'h');
    ASSERT_EQ(send(ch.a.get(), request, c.conn), SendStatus::sent);
    std::string got;
    Fd fd;
    ASSERT_EQ(recv(ch.b.get(), got, fd), RecvStatus::received);
    EXPECT_TRUE(fd.valid());
    EXPECT_EQ(got, request);
}

TEST(Channel, MessagesKeepTheirBoundaries) {
    Channel ch;
    for (std::size_t i = 1; i <= 3; ++i) {
        Conn c;
        ASSERT_EQ(send(ch.a.get(), std::string(i, static_cast<char>('a' + i)), c.conn),
                  SendStatus::sent);
    }
    for (std::size_t i = 1; i <= 3; ++i) {
        std::string got;
        Fd fd;
        ASSERT_EQ(recv(ch.b.get(), got, fd), RecvStatus::received);
        EXPECT_EQ(got, std::string(i, static_cast<char>('a' + i)));
    }
    std::string none;
    Fd fd;
    EXPECT_EQ(recv(ch.b.get(), none, fd), RecvStatus::would_block);
    EXPECT_FALSE(fd.valid());
}

TEST(Channel, AMessageLongerThanTheBufferIsRejectedAndLeaksNothing) {
    Channel ch;
    Conn c;
    ASSERT_EQ(send(ch.a.get(), std::string(100, 'm'), c.conn), SendStatus::sent);
    int before = open_fds();
    std::string got;
    Fd fd;
    EXPECT_EQ(recv(ch.b.get(), got, fd, 10), RecvStatus::bad) << "MSG_TRUNC was ignored";
    EXPECT_FALSE(fd.valid());
    EXPECT_EQ(open_fds(), before) << "the descriptor that came with a truncated message leaked";
}

TEST(Channel, TruncatedControlDataIsRejectedAndLeaksNothing) {
    Channel ch;
    Conn c;
    Message m;
    // Two descriptors, and room in this process for one: the kernel installs the first, drops the
    // second, and says so only with MSG_CTRUNC; the control message itself looks like a good one.
    ASSERT_GT(raw_send(ch.a.get(), &m, sizeof m, c.conn.get(), 2), 0);
    int before = open_fds();
    std::string got;
    Fd fd;
    RecvStatus status = RecvStatus::received;
    {
        FreeDescriptors one(1);
        status = recv(ch.b.get(), got, fd);
    }
    EXPECT_EQ(status, RecvStatus::bad) << "MSG_CTRUNC was ignored";
    EXPECT_FALSE(fd.valid());
    fd.reset();
    EXPECT_EQ(open_fds(), before) << "a descriptor that came with a bad message leaked";
}

TEST(Channel, ExtraDescriptorsAreRejectedAndLeakNothing) {
    Channel ch;
    Conn c;
    Message m;
    ASSERT_GT(raw_send(ch.a.get(), &m, sizeof m, c.conn.get(), 3), 0);
    int before = open_fds();
    std::string got;
    Fd fd;
    EXPECT_EQ(recv(ch.b.get(), got, fd), RecvStatus::bad);
    EXPECT_FALSE(fd.valid());
    EXPECT_EQ(open_fds(), before) << "descriptors that came with a bad message leaked";
}

TEST(Channel, AMessageWithoutADescriptorIsRejected) {
    Channel ch;
    Message m;
    ASSERT_GT(raw_send(ch.a.get(), &m, sizeof m, -1, 0), 0);
    std::string got;
    Fd fd;
    EXPECT_EQ(recv(ch.b.get(), got, fd), RecvStatus::bad);
    EXPECT_FALSE(fd.valid());
}

TEST(Channel, AReceiverOutOfDescriptorsGetsBadNotAGhost) {
    Channel ch;
    Conn c;
    ASSERT_EQ(send(ch.a.get(), "c", c.conn), SendStatus::sent);
    std::string got;
    Fd fd;
    RecvStatus status = RecvStatus::received;
    {
        FreeDescriptors none(0);  // the kernel cannot install the descriptor that came
        status = recv(ch.b.get(), got, fd);
    }
    EXPECT_EQ(status, RecvStatus::bad) << "MSG_CTRUNC says the descriptor did not arrive";
    EXPECT_FALSE(fd.valid());
    // The kernel closed the descriptor it could not install: the client sees end-of-file.
    EXPECT_TRUE(test::closed_within(c.client.get(), std::chrono::milliseconds(500)));
}

TEST(Channel, AFullChannelWouldBlockAndTheCallerKeepsTheConnection) {
    Channel ch;
    std::string m(1000, 'x');
    SendStatus status = SendStatus::sent;
    int sent = 0;
    Conn last;
    for (; sent < 100000; ++sent) {
        Conn c;
        int number = c.conn.get();
        status = send(ch.a.get(), m, c.conn);
        if (status != SendStatus::sent) {
            EXPECT_TRUE(c.conn.valid()) << "a descriptor that was not sent must stay the caller's";
            EXPECT_TRUE(is_open(number));
            break;
        }
    }
    EXPECT_EQ(status, SendStatus::would_block) << "after " << sent << " messages";
    EXPECT_GT(sent, 10);
}

TEST(Channel, AGoneReceiverFailsAndEndOfFileIsClosed) {
    {
        Channel ch;
        ch.b.reset();
        Conn c;
        EXPECT_EQ(send(ch.a.get(), "c", c.conn), SendStatus::failed);
        EXPECT_TRUE(c.conn.valid());
    }
    {
        Channel ch;
        ch.a.reset();
        std::string got;
        Fd fd;
        EXPECT_EQ(recv(ch.b.get(), got, fd), RecvStatus::closed);
    }
}

}  // namespace
}  // namespace forklab::ch05
