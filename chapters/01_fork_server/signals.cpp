/// \file
/// \brief The self-pipe: signal handlers that only write one byte.
#include "signals.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <stdexcept>

#include "forklab/error.hpp"

namespace forklab::ch01 {

namespace {

/// The write end of the current instance's pipe, read by the handler. -1 when none.
volatile sig_atomic_t g_write_fd = -1;
/// The read end, so a forked child can close both ends.
volatile sig_atomic_t g_read_fd = -1;
/// Set by the handler after its write: take() reads the pipe only when it is set, so a loop that
/// calls take() once per request pays no system call when no signal came.
volatile sig_atomic_t g_pending = 0;
/// The signals routed into the pipe, so a forked child resets exactly those (a bitmask: Linux
/// signal numbers are below 65).
unsigned long long g_caught = 0;

//! [handler]
/// The whole handler: remember which signal came, keep errno intact for the interrupted code.
void on_signal(int sig) {
    int saved = errno;
    auto byte = static_cast<unsigned char>(sig);
    // If the pipe is full a wake-up is already pending: dropping this byte loses nothing, because
    // take() reports each signal once anyway. A signal number above 255 does not exist on Linux.
    [[maybe_unused]] ssize_t n = ::write(g_write_fd, &byte, 1);
    g_pending = 1;
    errno = saved;
}
//! [handler]

sigset_t set_of(std::initializer_list<int> signals) {
    sigset_t set;
    sigemptyset(&set);
    for (int sig : signals) {
        sigaddset(&set, sig);
    }
    return set;
}

void install(int sig, void (*handler)(int), bool restart) {
    struct sigaction sa = {};
    sa.sa_handler = handler;
    sa.sa_flags = restart ? SA_RESTART : 0;
    sigemptyset(&sa.sa_mask);
    if (::sigaction(sig, &sa, nullptr) == -1) {
        throw_errno("sigaction " + std::to_string(sig));
    }
}

}  // namespace

SignalEvents::SignalEvents(std::initializer_list<int> signals, bool restart) : restart_(restart) {
    if (g_write_fd != -1) {
        throw std::logic_error("SignalEvents: only one instance per process");
    }
    Pipe pipe = make_pipe(O_NONBLOCK);
    read_end_ = std::move(pipe.read_end);
    write_end_ = std::move(pipe.write_end);
    g_read_fd = read_end_.get();
    g_write_fd = write_end_.get();
    for (int sig : signals) {
        add(sig);
    }
}

SignalEvents::~SignalEvents() {
    for (int sig : signals_) {
        (void)::signal(sig, SIG_DFL);
    }
    g_caught = 0;
    g_write_fd = -1;
    g_read_fd = -1;
    g_pending = 0;
}

void SignalEvents::add(int sig) {
    install(sig, on_signal, restart_);
    signals_.push_back(sig);
    g_caught |= 1ULL << sig;
}

std::vector<int> SignalEvents::take() {
    std::vector<int> out;
    if (g_pending == 0) {
        return out;  // no handler ran since the last take(): the pipe is empty
    }
    // Cleared before the read: a signal that comes during it sets the flag again, and at worst the
    // next take() reads an empty pipe.
    g_pending = 0;
    unsigned char buf[64];
    for (;;) {
        ssize_t n = ::read(read_end_.get(), buf, sizeof buf);
        if (n > 0) {
            for (ssize_t i = 0; i < n; ++i) {
                int sig = buf[i];
                if (std::find(out.begin(), out.end(), sig) == out.end()) {
                    out.push_back(sig);
                }
            }
            continue;
        }
        if (n == -1 && errno == EINTR) {
            continue;
        }
        break;  // EAGAIN: drained
    }
    return out;
}

void ignore_sigpipe() {
    if (::signal(SIGPIPE, SIG_IGN) == SIG_ERR) {
        throw_errno("signal SIGPIPE");
    }
}

BlockedSignals::BlockedSignals() {
    sigset_t all;
    sigfillset(&all);
    ::sigprocmask(SIG_BLOCK, &all, &previous_);  // cannot fail with a valid how and set
}

BlockedSignals::BlockedSignals(std::initializer_list<int> signals) {
    sigset_t set = set_of(signals);
    ::sigprocmask(SIG_BLOCK, &set, &previous_);
}

BlockedSignals::~BlockedSignals() {
    ::sigprocmask(SIG_SETMASK, &previous_, nullptr);
}

void unblock_signals(std::initializer_list<int> signals) {
    sigset_t set = set_of(signals);
    ::sigprocmask(SIG_UNBLOCK, &set, nullptr);
}

void reset_signals_in_child(std::initializer_list<int> ignore) noexcept {
    unsigned long long ignored = 0;
    for (int sig : ignore) {
        ignored |= 1ULL << sig;
    }
    // signal() cannot fail for a valid, catchable signal.
    for (int sig = 1; sig < NSIG && sig < 64; ++sig) {
        if ((ignored & (1ULL << sig)) != 0) {
            (void)::signal(sig, SIG_IGN);
        } else if ((g_caught & (1ULL << sig)) != 0) {
            (void)::signal(sig, SIG_DFL);
        }
    }
    g_caught = 0;
    if (g_read_fd != -1) {
        ::close(g_read_fd);
        ::close(g_write_fd);
        g_read_fd = -1;
        g_write_fd = -1;
    }
    g_pending = 0;
}

}  // namespace forklab::ch01
