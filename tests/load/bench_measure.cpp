/// \file
/// \brief Measuring one server under one workload.
#include "bench_measure.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <iostream>
#include <mutex>
#include <thread>
#include <vector>

#include "forklab/fd.hpp"
#include "load_engine.hpp"
#include "proc_stats.hpp"
#include "response_parser.hpp"

namespace forklab::load {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

/// Does the server keep a connection open after answering a keep-alive request? Asks the server
/// instead of guessing from its name: one `GET /` without `Connection: close`. Returns "" with
/// \p keeps set when a complete 200 response came (\p keeps: it did not announce a close), or
/// why no answer came.
std::string probe_keep_alive(const Endpoint& at, bool& keeps) {
    Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(at.port);
    if (!fd || ::inet_pton(AF_INET, at.host.c_str(), &addr.sin_addr) != 1) {
        return "not an IPv4 socket address";
    }
    timeval limit{2, 0};
    (void)::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
    (void)::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit);
    std::string request = "GET / HTTP/1.1\r\nHost: " + at.to_string() + "\r\n\r\n";
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == -1) {
        return std::string("connect: ") + std::strerror(errno);
    }
    if (!write_all(fd.get(), request.data(), request.size())) {
        return std::string("send: ") + std::strerror(errno);
    }
    ResponseParser parser;
    char buf[4096];
    // Bounded: each read waits at most 2 s, and a head or body too long is malformed.
    while (parser.state() == ResponseParser::State::incomplete) {
        ssize_t n = ::read(fd.get(), buf, sizeof buf);
        if (n == -1 && errno == EINTR) {
            continue;
        }
        if (n == 0) {
            return "closed before a whole response";
        }
        if (n == -1) {
            return std::string("read: ") + std::strerror(errno);
        }
        parser.feed(std::string_view(buf, static_cast<std::size_t>(n)));
    }
    if (parser.state() != ResponseParser::State::complete || parser.status() != 200) {
        return "not a 200 response";
    }
    keeps = !parser.close();
    return "";
}

/// Counts the server's processes (master + live children) every 100 ms while it lives.
class ProcessSampler {
  public:
    explicit ProcessSampler(pid_t master) : master_(master) {
        if (master_ > 0) {
            thread_ = std::thread([this] { loop(); });
        }
    }
    ~ProcessSampler() { finish(); }
    ProcessSampler(const ProcessSampler&) = delete;
    ProcessSampler& operator=(const ProcessSampler&) = delete;

    /// Stops sampling; returns the most processes seen (0 when not sampling).
    int finish() {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            done_ = true;
        }
        wake_.notify_all();
        if (thread_.joinable()) {
            thread_.join();
        }
        return most_;
    }

  private:
    void loop() {
        std::unique_lock<std::mutex> lock(mutex_);
        // Bounded by the owner's finish(), which every path out of the owner's scope calls.
        while (!done_) {
            lock.unlock();
            int n = 1 + static_cast<int>(live_children(master_).size());
            lock.lock();
            most_ = std::max(most_, n);
            wake_.wait_for(lock, milliseconds(100), [this] { return done_; });
        }
    }

    pid_t master_;
    std::mutex mutex_;
    std::condition_variable wake_;
    bool done_ = false;
    int most_ = 0;
    std::thread thread_;
};

}  // namespace

bool keeps_alive(const std::string& name, const Endpoint& at) {
    std::string why;
    for (int attempt = 0; attempt < 3; ++attempt) {
        bool keeps = false;
        why = probe_keep_alive(at, keeps);
        if (why.empty()) {
            return keeps;
        }
        std::this_thread::sleep_for(milliseconds(100));
    }
    std::cerr << "[bench] " << name << ": no answer to a keep-alive GET / (" << why
              << "): no keep-alive row\n";
    return false;
}

Cell measure_cell(const Endpoint& at, pid_t master, const Workload& w, const CellLoad& load) {
    LoadConfig config;
    config.target = at;
    config.concurrency = load.concurrency;
    config.path = w.path;
    config.keep_alive = w.keep_alive;
    config.stop_fd = load.stop_fd;
    config.threads = load.threads;
    // Warm-up, not measured: page faults, caches, and pools that grow under load.
    config.duration_ms = std::min(500L, load.duration_ms / 4 + 1);
    (void)run_load(config);

    config.duration_ms = load.duration_ms;
    Cell cell;
    ProcessSampler sampler(master);
    double cpu_before = master > 0 ? tree_cpu(master).seconds : 0;
    LoadResult r = run_load(config);
    double cpu_after = master > 0 ? tree_cpu(master).seconds : 0;
    cell.processes = sampler.finish();
    cell.status = r.stopped ? Cell::Status::not_run : Cell::Status::measured;
    cell.rps = r.rate();
    cell.rounds = 1;
    cell.rps_min = cell.rps;
    cell.rps_max = cell.rps;
    if (master > 0 && r.ok > 0) {
        cell.cpu_us = (cpu_after - cpu_before) * 1e6 / static_cast<double>(r.ok);
    }
    cell.p99_ms = static_cast<double>(r.percentile(0.99)) / 1000.0;
    cell.errors = r.error_count();
    for (const auto& [kind, n] : r.errors) {
        cell.error_kinds += (cell.error_kinds.empty() ? "" : ", ") + kind + " " + std::to_string(n);
    }
    return cell;
}

void measure_rest(pid_t master, Row& row) {
    std::vector<pid_t> children = live_children(master);
    auto deadline = Clock::now() + std::chrono::seconds(3);
    for (int same = 0; same < 4 && Clock::now() < deadline;) {
        std::this_thread::sleep_for(milliseconds(50));
        std::vector<pid_t> now = live_children(master);
        same = now.size() == children.size() ? same + 1 : 0;
        children = std::move(now);
    }
    row.rest_processes = 1 + static_cast<int>(children.size());
    row.master_pss_kib = pss_kib(master);
    long sum = 0;
    long counted = 0;
    for (pid_t pid : children) {
        if (long kib = pss_kib(pid); kib >= 0) {
            sum += kib;
            ++counted;
        }
    }
    row.worker_pss_kib = counted > 0 ? sum / counted : -1;
}

}  // namespace forklab::load
