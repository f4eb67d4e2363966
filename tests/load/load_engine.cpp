/// \file
/// \brief run_load(): the load shared among event loops, their results added up.
#include "load_engine.hpp"

#include <unistd.h>

#include <algorithm>
#include <exception>
#include <thread>
#include <vector>

#include "event_loop.hpp"

namespace forklab::load {

long LoadResult::error_count() const {
    long n = 0;
    for (const auto& [kind, count] : errors) {
        n += count;
    }
    return n;
}

int default_threads() {
    long cores = ::sysconf(_SC_NPROCESSORS_ONLN);
    return static_cast<int>(std::clamp(cores, 1L, 4L));
}

LoadResult run_load(const LoadConfig& config) {
    int threads = std::max(1, std::min(config.threads, config.concurrency));
    if (config.requests > 0) {
        threads = static_cast<int>(std::min<long>(threads, config.requests));
    }
    if (threads == 1) {
        return run_event_loop(config);
    }
    // Each thread gets its share of the connections and requests, and its own engine.
    std::vector<LoadConfig> shares(static_cast<std::size_t>(threads), config);
    for (int t = 0; t < threads; ++t) {
        shares[t].threads = 1;
        shares[t].concurrency = config.concurrency / threads + (t < config.concurrency % threads);
        if (config.requests > 0) {
            shares[t].requests = config.requests / threads + (t < config.requests % threads);
        }
    }
    std::vector<LoadResult> results(shares.size());
    std::vector<std::exception_ptr> failures(shares.size());
    std::vector<std::thread> pool;
    for (std::size_t t = 0; t < shares.size(); ++t) {
        pool.emplace_back([&, t] {
            try {
                results[t] = run_event_loop(shares[t]);
            } catch (...) {
                failures[t] = std::current_exception();
            }
        });
    }
    for (std::thread& thread : pool) {
        thread.join();
    }
    for (const std::exception_ptr& failure : failures) {
        if (failure) {
            std::rethrow_exception(failure);
        }
    }
    LoadResult total;
    for (const LoadResult& r : results) {
        total.requests += r.requests;
        total.ok += r.ok;
        for (const auto& [kind, n] : r.errors) {
            total.errors[kind] += n;
        }
        total.elapsed_s = std::max(total.elapsed_s, r.elapsed_s);
        total.latency.merge(r.latency);
        total.stopped = total.stopped || r.stopped;
    }
    return total;
}

}  // namespace forklab::load
