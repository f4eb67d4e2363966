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
#include "master.hpp"

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
      start_failures_(config.max_start_failures),
      current_(static_cast<std::size_t>(config.workers)),
      respawn_at_(current_.size()),
      candidates_(current_.size()) {
    if (!epoll_) {
        throw_errno("epoll_create1");
    }
    epoll_event ev{EPOLLIN, {.u64 = tag(Source::listener)}};
    if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, listener_.get(), &ev) == -1) {
        throw_errno("epoll_ctl add listener");
    }
    ev = {EPOLLIN, {.u64 = tag(Source::signals)}};
    if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, signals_.fd(), &ev) == -1) {
        throw_errno("epoll_ctl add signal pipe");
    }
}

//! [accept]
void Master::accept_some(int most) {
    static const Message new_connection{Command::connection};
    for (int i = 0; i < most && accepting_; ++i) {
        ch01::AcceptResult r = acceptor_.accept();
        switch (r.status) {
            case ch01::AcceptStatus::accepted:
                starved_ = false;
                ++stats_.accepted;
                if (dispatch(
                        {reinterpret_cast<const char*>(&new_connection), sizeof new_connection},
                        std::move(r.conn))) {
                    ++stats_.passed;
                }
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
                stop_accepting();  // for a while: not a spin
                resume_accept_ = Clock::now() + milliseconds(ch01::Acceptor::backoff_ms);
                return;
            case ch01::AcceptStatus::would_block:
                return;
        }
    }
}
//! [accept]

/// Takes the listener out of the epoll set: no more accept wake-ups until resume_accepting.
void Master::stop_accepting() {
    if (accepting_) {
        if (::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, listener_.get(), nullptr) == -1) {
            throw_errno("epoll_ctl del listener");  // it is in the set: this cannot fail
        }
        accepting_ = false;
    }
}

/// Puts the listener back in the epoll set; when the kernel cannot (ENOMEM, ENOSPC), tries again
/// after the same back-off.
void Master::resume_accepting(Clock::time_point now) {
    epoll_event ev{EPOLLIN, {.u64 = tag(Source::listener)}};
    if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, listener_.get(), &ev) == -1) {
        log::line("epoll_ctl add listener: ", std::strerror(errno), ": accepts stay paused");
        resume_accept_ = now + milliseconds(ch01::Acceptor::backoff_ms);
        return;
    }
    accepting_ = true;
}

//! [dispatch]
bool Master::dispatch(std::span<const char> message, Fd conn) {
    for (std::size_t i = 0; i < current_.size(); ++i) {
        const CurrentWorker& w = current_[i];
        bool live = taking(w);
        candidates_[i] = {live ? board_.slot(w.channel->slot).open.load() : 0, live,
                          live && state_of(*w.channel) == ch03::SlotState::starting};
    }
    turn_ = (turn_ + 1) % current_.size();
    auto cap = static_cast<unsigned long>(config_.limits.max_connections);
    std::uint64_t tried = 0;
    for (;;) {
        std::size_t i = least_loaded(candidates_, turn_, tried, cap);
        if (i == current_.size()) {
            refuse(std::move(conn));  // nobody can take it now: say so; never block, never leak
            return false;
        }
        if (pass(*current_[i].channel, message, conn)) {
            return true;
        }
        tried |= std::uint64_t{1} << i;  // its channel is full (a slow or stopped worker)
    }
}

bool Master::pass(const WorkerChannel& to, std::span<const char> message, Fd& conn) {
    ch03::Slot& s = board_.slot(to.slot);
    s.open.fetch_add(1);  // first: the worker may serve and close it before sendmsg returns here
    if (send_fd(to.master_end.get(), message.data(), message.size(), conn) == SendStatus::sent) {
        ++s.dispatched;
        return true;  // our copy is closed: the worker holds the only one
    }
    s.open.fetch_sub(1);
    return false;  // conn is still ours
}
//! [dispatch]

bool Master::pass_to(std::size_t index, std::span<const char> message, Fd& conn) {
    return index < current_.size() && taking(current_[index]) &&
           pass(*current_[index].channel, message, conn);
}

void Master::refuse(Fd conn) {
    static const std::string busy = serialize(error_response(503), false, false);
    // Best effort, never blocking: a client whose socket cannot take 60 bytes gets a close.
    if (::send(conn.get(), busy.data(), busy.size(), MSG_NOSIGNAL | MSG_DONTWAIT) == -1) {
        log::line("503 not sent: ", std::strerror(errno));
    }
    ++stats_.refused;
}

/// Reads what \p worker sent on its channel (at most 64 messages a turn). Chapter 05's workers
/// send nothing: its end-of-file says the worker is leaving. A Router reads its own messages.
void Master::read_channel(std::map<pid_t, WorkerChannel>::iterator worker) {
    int channel = worker->second.master_end.get();
    for (int i = 0; i < 64; ++i) {
        RecvStatus status = RecvStatus::bad;
        if (config_.router != nullptr) {
            status = config_.router->on_channel(channel, *this);
        } else {
            Fd conn;
            std::size_t size = 0;
            status = recv_fd(channel, &message_, sizeof message_, size, conn);
            if (status == RecvStatus::received) {
                log::line("unexpected message from worker ", worker->first, ": dropped");
            }  // conn closes here
        }
        switch (status) {
            case RecvStatus::would_block:
                return;
            case RecvStatus::closed:  // the worker is exiting: SIGCHLD brings the rest
                if (worker->second.watched &&
                    ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, channel, nullptr) == -1) {
                    throw_errno("epoll_ctl del channel");  // it is in the set: cannot fail
                }
                worker->second.watched = false;
                return;
            case RecvStatus::bad:
                log::line("bad message from worker ", worker->first, ": dropped");
                continue;
            case RecvStatus::received:
                continue;
        }
    }
}

void Master::on_channel_event(int fd) {
    for (auto it = channels_.begin(); it != channels_.end(); ++it) {
        if (it->second.master_end.get() == fd) {
            read_channel(it);
            return;
        }
    }
}

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
    for (std::size_t i = 0; i < current_.size(); ++i) {
        spawn_worker(i);
    }
    epoll_event events[64];
    for (;;) {
        auto now = Clock::now();
        auto wake = workers_.enforce(now);  // stop signals repeated, SIGKILL at the deadline
        if (mode_ == Mode::running) {
            keep_pool_full(now);
            if (!accepting_ && now >= resume_accept_) {
                resume_accepting(now);
            }
            for (std::size_t i = 0; i < current_.size(); ++i) {
                wake = current_[i].pid == 0 ? std::min(wake, respawn_at_[i]) : wake;
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
                on_channel_event(static_cast<int>(events[k].data.u64 & 0xffffffffu));
            }
        }
    }
    log::line("stopped; accepted ", stats_.accepted, ", passed ", stats_.passed, ", refused ",
              stats_.refused, ", shed ", stats_.shed);
    return exit_code_;
}
//! [master_loop]

int run_master(Fd listener, ch03::Scoreboard& board, DispatchStats& stats,
               ch01::SignalEvents& signals, const MasterConfig& config) {
    return Master(std::move(listener), board, stats, signals, config).run();
}

}  // namespace forklab::ch05
