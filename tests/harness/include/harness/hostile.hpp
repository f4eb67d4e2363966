/// \file
/// \brief Hostile clients for tests: a flood of bytes, and a reader that takes a little at a time.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <string>
#include <thread>

#include "forklab/fd.hpp"

namespace forklab::test {

/// Sends \p pattern again and again from a thread, as fast as the server takes it, until the
/// server cuts the connection (the send fails: EPIPE, ECONNRESET), stop() is called or \p bound
/// passes. With a port it connects to 127.0.0.1:PORT and connects again after each cut (an
/// attacker does); with a connection it floods that one only.
class Flood {
  public:
    /// Floods new connections to 127.0.0.1:\p port, one after another.
    Flood(int port, std::string pattern, std::chrono::milliseconds bound);
    /// Floods \p conn (takes ownership) until it is cut.
    Flood(Fd conn, std::string pattern, std::chrono::milliseconds bound);
    /// Stops and joins the thread.
    ~Flood();
    Flood(const Flood&) = delete;
    Flood& operator=(const Flood&) = delete;

    /// How many connections the server has cut so far.
    [[nodiscard]] int cuts() const { return cuts_.load(); }
    /// True while the thread still floods (neither stopped nor past its bound, and for a single
    /// connection, not cut).
    [[nodiscard]] bool running() const { return running_.load(); }
    /// Stops flooding and waits for the thread.
    void stop();

  private:
    void run(Fd conn, int port);

    std::string pattern_;
    std::chrono::steady_clock::time_point until_;
    std::atomic<bool> stop_{false};
    std::atomic<bool> running_{true};
    std::atomic<int> cuts_{0};
    std::thread thread_;
};

/// What read_slowly() saw.
struct SlowRead {
    std::size_t bytes = 0;  ///< How much arrived.
    bool cut = false;       ///< End-of-file or a reset came before \p bound.
};

/// Reads at most \p chunk bytes from \p fd, pauses \p pause, and again, until end-of-file, an
/// error or \p bound. The pause paces the client; it synchronizes nothing.
SlowRead read_slowly(int fd, std::size_t chunk, std::chrono::milliseconds pause,
                     std::chrono::milliseconds bound);

/// A client that asks 127.0.0.1:\p port for \p path and reads the reply 16 KiB every 50 ms on a
/// thread of its own (at most 60 s), with a 16 KiB receive buffer so that the kernel cannot hide
/// the pace: every send of the server makes progress, and 16 MiB would take about 50 s.
class SlowClient {
  public:
    /// Connects, sends the request and starts reading. Throws std::system_error if it cannot.
    SlowClient(int port, const std::string& path);
    /// stop(), if not done yet.
    ~SlowClient();
    SlowClient(const SlowClient&) = delete;
    SlowClient& operator=(const SlowClient&) = delete;

    /// True while the reply is still coming (neither cut by the server nor all read).
    [[nodiscard]] bool reading() const { return reading_.load(); }
    /// Shuts the connection down, waits for the thread and returns what it saw.
    SlowRead stop();

  private:
    Fd conn_;
    SlowRead seen_;
    std::atomic<bool> reading_{true};
    std::thread thread_;
};

}  // namespace forklab::test
