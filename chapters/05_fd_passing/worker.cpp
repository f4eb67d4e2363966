/// \file
/// \brief The worker's event loop: the channel, its signals and its connections in one epoll set.
#include "worker.hpp"

#include <sys/epoll.h>
#include <unistd.h>

#include <csignal>

#include "01_fork_server/signals.hpp"
#include "03_prefork_flock/worker_life.hpp"
#include "channel.hpp"
#include "forklab/error.hpp"
#include "forklab/log.hpp"

namespace forklab::ch05 {

namespace {

class Worker {
  public:
    explicit Worker(const WorkerContext& c);
    int run();

  private:
    void take_connections(int most);
    RecvStatus receive(Arrival& arrival);
    void on_signals();

    const WorkerContext& c_;
    ch03::Slot& slot_;
    Fd epoll_;  // made after fork: never shared with the master or a sibling (pitfall 20)
    ch01::SignalEvents signals_;
    AppContext app_;
    Connections conns_;
    Message message_;  // chapter 05's messages are read into this one
    bool stopping_ = false;
    bool done_ = false;
};

Worker::Worker(const WorkerContext& c)
    : c_(c),
      slot_(c.board.slot(c.slot)),
      epoll_(::epoll_create1(EPOLL_CLOEXEC)),
      signals_({SIGQUIT, SIGHUP, SIGUSR1, SIGTERM}),
      app_{c.drills, [&c](bool json) { return render_status(c.board, c.stats, c.router, json); }},
      conns_(epoll_.get(), c.limits, app_, slot_, c.router, c.me) {
    if (!epoll_) {
        throw_errno("epoll_create1");
    }
    epoll_event ev{EPOLLIN, {.fd = c.me.channel}};
    if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, c.me.channel, &ev) == -1) {
        throw_errno("epoll_ctl add channel");
    }
    ev = {EPOLLIN, {.fd = signals_.fd()}};
    if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, signals_.fd(), &ev) == -1) {
        throw_errno("epoll_ctl add signal pipe");
    }
    ch01::unblock_signals({SIGQUIT, SIGHUP, SIGUSR1, SIGTERM});  // held by the master since fork
}

//! [take]
void Worker::take_connections(int most) {
    auto now = Clock::now();
    for (int i = 0; i < most; ++i) {
        Arrival arrival;
        switch (receive(arrival)) {
            case RecvStatus::would_block:
                return;
            case RecvStatus::closed:
                log::line("the master is gone (end-of-file on the channel): leaving");
                done_ = true;
                return;
            case RecvStatus::bad:
                log::line("bad message on the channel: dropped");
                slot_.open.fetch_sub(1);  // the master counted a connection that never came
                continue;
            case RecvStatus::received:
                break;
        }
        conns_.add(std::move(arrival.conn), arrival.read, arrival.reroutable, now);
    }
}

/// One message from the channel: chapter 05's own, or, with a Router, the Router's.
RecvStatus Worker::receive(Arrival& arrival) {
    if (c_.router != nullptr) {
        return c_.router->take(c_.me, arrival);
    }
    std::size_t size = 0;
    RecvStatus status = recv_fd(c_.me.channel, &message_, sizeof message_, size, arrival.conn);
    if (status == RecvStatus::received && !valid(message_, size)) {
        arrival.conn.reset();  // we cannot know what it is for: its client sees a close
        return RecvStatus::bad;
    }
    return status;
}
//! [take]

void Worker::on_signals() {
    for (int sig : signals_.take()) {
        switch (sig) {
            case SIGUSR1:
                log::reopen();
                break;
            case SIGTERM:
                done_ = true;  // fast stop: the connections close with the process
                break;
            default:  // QUIT, HUP: leave gracefully
                if (!stopping_) {
                    // Connections the master passed before it signalled are in the channel
                    // already: take them all, they are served (once) before we leave.
                    take_connections(1 << 30);
                    stopping_ = true;
                    conns_.stop_gracefully();
                    slot_.state = static_cast<int>(ch03::SlotState::exiting);
                    log::line("leaving gracefully, ", conns_.size(), " connections to finish");
                }
                break;
        }
    }
}

//! [event_loop]
int Worker::run() {
    epoll_event events[256];
    while (!done_ && !(stopping_ && conns_.size() == 0)) {
        if (!stopping_) {
            slot_.state = static_cast<int>(conns_.size() > 0 ? ch03::SlotState::busy
                                                             : ch03::SlotState::accepting);
        }
        int n = ::epoll_wait(epoll_.get(), events, 256, conns_.timeout_ms(Clock::now()));
        auto now = Clock::now();
        for (int k = 0; k < n && !done_; ++k) {
            int fd = events[k].data.fd;
            if (fd == c_.me.channel) {
                // One message per wake-up: epoll is level-triggered and reports the channel again
                // if more wait, and reading on to EAGAIN would cost a recvmsg per connection.
                take_connections(1);
            } else if (fd == signals_.fd()) {
                on_signals();
            } else {
                conns_.on_event(fd, events[k].events, now);
            }
        }
        conns_.expire(now);
    }
    log::line("leaving after ", conns_.requests(), " requests");
    return 0;
}
//! [event_loop]

}  // namespace

int run_worker(const WorkerContext& context) {
    log::set_role("worker");
    if (!ch03::die_with_master(context.master)) {
        return 0;  // the master died before we could ask to die with it
    }
    return Worker(context).run();
}

}  // namespace forklab::ch05
