/// \file
/// \brief Hostile clients for tests.
#include "harness/hostile.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

#include "forklab/error.hpp"
#include "harness/http_client.hpp"

namespace forklab::test {

using Clock = std::chrono::steady_clock;

Flood::Flood(int port, std::string pattern, std::chrono::milliseconds bound)
    : pattern_(std::move(pattern)), until_(Clock::now() + bound) {
    thread_ = std::thread([this, port] { run(Fd(), port); });
}

Flood::Flood(Fd conn, std::string pattern, std::chrono::milliseconds bound)
    : pattern_(std::move(pattern)), until_(Clock::now() + bound) {
    thread_ = std::thread([this, c = std::move(conn)]() mutable { run(std::move(c), 0); });
}

Flood::~Flood() {
    stop();
}

void Flood::stop() {
    stop_ = true;
    if (thread_.joinable()) {
        thread_.join();
    }
}

void Flood::run(Fd conn, int port) {
    while (!stop_ && Clock::now() < until_) {
        if (!conn) {
            if (port == 0) {
                break;  // the one connection was cut
            }
            try {
                conn = connect_to(port);
            } catch (const std::system_error&) {
                continue;  // the backlog is full for an instant: try again
            }
        }
        pollfd p{conn.get(), POLLOUT, 0};
        if (::poll(&p, 1, 50) <= 0) {
            continue;  // full for now: look at the clock and the stop flag again
        }
        ssize_t n =
            ::send(conn.get(), pattern_.data(), pattern_.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n == -1 && errno != EAGAIN && errno != EINTR) {
            ++cuts_;
            conn = Fd();
        }
    }
    running_ = false;
}

SlowRead read_slowly(int fd, std::size_t chunk, std::chrono::milliseconds pause,
                     std::chrono::milliseconds bound) {
    SlowRead r;
    std::string buf(chunk, '\0');
    for (auto until = Clock::now() + bound; Clock::now() < until;) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 50) > 0) {
            ssize_t n = ::recv(fd, buf.data(), buf.size(), MSG_DONTWAIT);
            if (n == 0 || (n == -1 && errno != EAGAIN && errno != EINTR)) {
                r.cut = true;
                return r;
            }
            r.bytes += n > 0 ? static_cast<std::size_t>(n) : 0;
        }
        std::this_thread::sleep_for(pause);
    }
    return r;
}

SlowClient::SlowClient(int port, const std::string& path) : conn_(connect_to(port, 16384)) {
    if (!send_all(conn_.get(), "GET " + path + " HTTP/1.1\r\n\r\n")) {
        throw_errno("send");
    }
    thread_ = std::thread([this] {
        seen_ = read_slowly(conn_.get(), 16384, std::chrono::milliseconds(50),
                            std::chrono::seconds(60));
        reading_ = false;
    });
}

SlowClient::~SlowClient() {
    stop();
}

SlowRead SlowClient::stop() {
    if (thread_.joinable()) {
        ::shutdown(conn_.get(), SHUT_RDWR);  // ends the reader
        thread_.join();
    }
    return seen_;
}

}  // namespace forklab::test
