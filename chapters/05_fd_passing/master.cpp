/// \file
/// \brief The master's epoll loop: accept, pick a worker, pass the descriptor, close our copy.
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstring>

#include "01_fork_server/reap.hpp"
#include "forklab/error.hpp"
#include "forklab/log.hpp"
#include "master_state.hpp"

namespace forklab::ch05 {

Master::Master(Fd listener, ch03::Scoreboard& board, DispatchStats& stats,
               ch01::SignalEvents& signals, const MasterConfig& config)
    : listener_(std::move(listener)),
      board_(board),
      stats_(stats),
      signals_(signals),
      config_(config),
      epoll_(::epoll_create1(EPOLL_CLOEXEC)),
      acceptor_(listener_.get(), true),  // non-blocking: O_NONBLOCK travels with the descriptor
      places_(static_cast<std::size_t>(config.workers)),
      respawn_at_(places_.size()),
      candidates_(places_.size()) {
    if (!epoll_) {
        throw_errno("epoll_create1");
    }
    epoll_event ev{EPOLLIN, {.u64 = tag(Source::listener)}};
    ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, listener_.get(), &ev);
    ev = {EPOLLIN, {.u64 = tag(Source::signals)}};
    ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, signals_.fd(), &ev);
}

//! [accept]
void Master::accept_some(int most) {
    for (int i = 0; i < most && accepting_; ++i) {
        ch01::AcceptResult r = acceptor_.accept();
        switch (r.status) {
            case ch01::AcceptStatus::accepted:
                starved_ = false;
                ++stats_.accepted;
                message_.command = Command::connection;
                message_.bytes = 0;
                dispatch(std::move(r.conn));
                continue;
            case ch01::AcceptStatus::retry:
                continue;
            case ch01::AcceptStatus::shed:  // EMFILE: one queued client was closed unanswered
                ++stats_.shed;
                continue;
            case ch01::AcceptStatus::backoff:
                if (!starved_) {
                    log::line("accept: ", std::strerror(r.error), ": pausing accepts");
                    starved_ = true;
                }
                pause_accepting(milliseconds(ch01::Acceptor::backoff_ms));  // not a spin
                return;
            case ch01::AcceptStatus::would_block:
                return;
        }
    }
}
//! [accept]

void Master::pause_accepting(milliseconds how_long) {
    if (accepting_) {
        ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, listener_.get(), nullptr);
        accepting_ = false;
    }
    resume_accept_ = Clock::now() + how_long;
}

//! [dispatch]
void Master::dispatch(Fd conn) {
    for (std::size_t i = 0; i < places_.size(); ++i) {
        const Place& p = places_[i];
        bool live = taking(p);
        candidates_[i] = {live ? board_.slot(p.link->slot).open.load() : 0, live,
                          live && state_of(*p.link) == ch03::SlotState::starting};
    }
    turn_ = (turn_ + 1) % places_.size();
    auto cap = static_cast<unsigned long>(config_.limits.max_connections);
    std::uint64_t tried = 0;
    for (;;) {
        std::size_t i = least_loaded(candidates_, turn_, tried, cap);
        if (i == places_.size()) {
            refuse(std::move(conn));  // nobody can take it now: say so; never block, never leak
            return;
        }
        if (pass(*places_[i].link, conn)) {
            return;
        }
        tried |= std::uint64_t{1} << i;  // its channel is full (a slow or stopped worker)
    }
}

bool Master::pass(const Link& link, Fd& conn) {
    ch03::Slot& s = board_.slot(link.slot);
    s.open.fetch_add(1);  // first: the worker may serve and close it before sendmsg returns here
    if (send_message(link.channel.get(), message_, conn) == SendStatus::sent) {
        ++s.dispatched;
        if (message_.command == Command::connection) {
            ++stats_.passed;
        }
        return true;  // our copy is closed: the worker holds the only one
    }
    s.open.fetch_sub(1);
    return false;  // conn is still ours
}
//! [dispatch]

void Master::refuse(Fd conn) {
    static const std::string busy = serialize(error_response(503), false, false);
    [[maybe_unused]] ssize_t n =
        ::send(conn.get(), busy.data(), busy.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    ++stats_.refused;
}

//! [hand_back]
void Master::read_channel(pid_t pid) {
    auto it = links_.find(pid);
    for (int i = 0; it != links_.end() && i < 64; ++i) {
        Fd conn;
        switch (recv_message(it->second.channel.get(), message_, conn)) {
            case RecvStatus::would_block:
                return;
            case RecvStatus::closed:  // the worker is exiting: SIGCHLD brings the
                                      // rest
                ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, it->second.channel.get(), nullptr);
                return;
            case RecvStatus::bad:
                log::line("bad message from worker ", pid, ": dropped");
                continue;
            case RecvStatus::received:
                break;
        }
        if (!conn || message_.command != Command::hand_back) {
            log::line("unexpected message from worker ", pid, ": dropped");
            continue;  // conn closes here
        }
        ++stats_.handed_back;
        forward(std::move(conn));
    }
}

void Master::forward(Fd conn) {
    std::size_t owner = message_.owner;
    message_.command = Command::forward;  // the bytes it read travel on with it
    if (owner < places_.size() && taking(places_[owner]) && pass(*places_[owner].link, conn)) {
        ++stats_.forwarded;
        return;
    }
    // The owner cannot take it now (its channel is full, or it is being replaced):
    // any worker serves it rather than none. As a forward it will not be handed back
    // again.
    ++stats_.rerouted;
    dispatch(std::move(conn));
}
//! [hand_back]

void Master::on_signal(int sig) {
    switch (sig) {
        case SIGCHLD:
            for (const ch01::ChildExit& end : ch01::reap_children()) {
                on_exit(end);
            }
            break;
        case SIGTERM:
        case SIGINT:
            stop(Mode::fast);
            break;
        case SIGQUIT:
            stop(Mode::graceful);
            break;
        case SIGHUP:
            if (mode_ == Mode::running) {
                hup();
            }
            break;
        case SIGUSR1:
            log::reopen();
            workers_.signal_all(SIGUSR1);
            break;
        default:
            break;
    }
}

//! [master_loop]
int Master::run() {
    for (std::size_t i = 0; i < places_.size(); ++i) {
        spawn_worker(i);
    }
    epoll_event events[64];
    for (;;) {
        auto now = Clock::now();
        auto wake = workers_.enforce(now);  // stop signals repeated, SIGKILL at the deadline
        if (mode_ == Mode::running) {
            keep_places(now);
            if (!accepting_ && now >= resume_accept_) {
                epoll_event ev{EPOLLIN, {.u64 = tag(Source::listener)}};
                ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, listener_.get(), &ev);
                accepting_ = true;
            }
            for (std::size_t i = 0; i < places_.size(); ++i) {
                wake = places_[i].pid == 0 ? std::min(wake, respawn_at_[i]) : wake;
            }
            wake = accepting_ ? wake : std::min(wake, resume_accept_);
        } else if (workers_.size() == 0) {
            break;
        }
        int timeout = -1;
        if (wake != Clock::time_point::max()) {
            auto ms = std::chrono::ceil<milliseconds>(wake - Clock::now()).count();
            timeout = static_cast<int>(std::clamp<long>(ms, 0, 60000));
        }
        int n = ::epoll_wait(epoll_.get(), events, 64, timeout);
        for (int k = 0; k < n; ++k) {
            auto source = static_cast<Source>(events[k].data.u64 >> 32);
            if (source == Source::listener && mode_ == Mode::running) {
                accept_some(64);
            } else if (source == Source::signals) {
                for (int sig : signals_.take()) {
                    on_signal(sig);
                }
            } else if (source == Source::channel) {
                read_channel(static_cast<pid_t>(events[k].data.u64 & 0xffffffffu));
            }
        }
    }
    log::line("stopped; accepted ", stats_.accepted, ", passed ", stats_.passed, ", handed back ",
              stats_.handed_back, ", refused ", stats_.refused, ", shed ", stats_.shed);
    return exit_code_;
}
//! [master_loop]

int run_master(Fd listener, ch03::Scoreboard& board, DispatchStats& stats,
               ch01::SignalEvents& signals, const MasterConfig& config) {
    return Master(std::move(listener), board, stats, signals, config).run();
}

}  // namespace forklab::ch05
