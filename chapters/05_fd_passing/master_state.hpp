/// \file
/// \brief The master's state, shared by its two halves: master.cpp (the loop, accepting and
/// passing connections) and master_workers.cpp (forking, reaping, replacing and stopping workers).
/// Chapter-internal.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <vector>

#include "01_fork_server/acceptor.hpp"
#include "01_fork_server/spawn.hpp"
#include "03_prefork_flock/rolling_restart.hpp"
#include "03_prefork_flock/start_failures.hpp"
#include "03_prefork_flock/worker_table.hpp"
#include "channel.hpp"
#include "dispatch.hpp"
#include "master.hpp"
#include "timers.hpp"

namespace forklab::ch05 {

/// What an epoll event of the master is about: the high half of data.u64 (the low half: a pid).
enum class Source : std::uint32_t {
    listener = 1,  ///< The listening socket.
    signals = 2,   ///< The signal pipe.
    channel = 3,   ///< A worker's channel; the low half is the worker's pid.
};

/// The epoll data for \p source (and the worker \p pid of a channel).
inline std::uint64_t tag(Source source, pid_t pid = 0) {
    return static_cast<std::uint64_t>(source) << 32 | static_cast<std::uint32_t>(pid);
}

/// A worker's channel, as the master holds it, until the worker is reaped.
struct Link {
    Fd channel;             ///< The master's end.
    std::size_t place = 0;  ///< The keys it owns: its index among the workers.
    std::size_t slot = 0;   ///< Its scoreboard slot.
};

/// One of the N places of the pool (a key owner), and the worker holding it now.
struct Place {
    pid_t pid = 0;         ///< 0: none (dead, not yet replaced).
    Link* link = nullptr;  ///< That worker's channel.
};

/// The master: one epoll loop over the listener, the signal pipe and the workers' channels.
class Master {
  public:
    /// Takes ownership of \p listener (non-blocking).
    Master(Fd listener, ch03::Scoreboard& board, DispatchStats& stats, ch01::SignalEvents& signals,
           const MasterConfig& config);
    /// Forks the workers, runs until stopped; returns the exit code.
    int run();

  private:
    using milliseconds = std::chrono::milliseconds;
    enum class Mode { running, graceful, fast };

    // master.cpp: the loop, accepting and passing.
    void accept_some(int most);
    void pause_accepting(milliseconds how_long);
    void dispatch(Fd conn);
    bool pass(const Link& link, Fd& conn);
    void refuse(Fd conn);
    void read_channel(pid_t pid);
    void forward(Fd conn);
    void on_signal(int sig);

    // master_workers.cpp: the pool.
    bool spawn_worker(std::size_t place);
    [[nodiscard]] bool taking(const Place& place) const;
    void keep_places(Clock::time_point now);
    void on_exit(const ch01::ChildExit& end);
    void stop(Mode how);
    void hup();
    void replace_next();

    [[nodiscard]] ch03::SlotState state_of(const Link& link) const {
        return static_cast<ch03::SlotState>(board_.slot(link.slot).state.load());
    }

    Fd listener_;
    ch03::Scoreboard& board_;
    DispatchStats& stats_;
    ch01::SignalEvents& signals_;
    const MasterConfig& config_;
    Fd epoll_;
    ch01::Acceptor acceptor_;
    ch03::WorkerTable workers_;
    ch03::RollingRestart rolling_;
    ch03::StartFailures start_failures_{5};
    std::map<pid_t, Link> links_;                // every worker not yet reaped
    std::vector<Place> places_;                  // index = the keys it owns
    std::vector<Clock::time_point> respawn_at_;  // per place
    std::vector<Candidate> candidates_;          // dispatch's view, rebuilt per connection
    Message message_;                            // every message is built or read here
    Mode mode_ = Mode::running;
    int exit_code_ = 0;
    unsigned generation_ = 0;
    std::size_t turn_ = 0;  // where dispatch starts scanning: equal workers take turns
    bool accepting_ = true;
    bool starved_ = false;  // in an EMFILE back-off (logged once)
    Clock::time_point resume_accept_{};
    Clock::time_point failed_at_{};
};

}  // namespace forklab::ch05
