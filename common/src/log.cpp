/// \file
/// \brief The kit's log: one write(2) per line.
#include "forklab/log.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>

#include "forklab/error.hpp"
#include "forklab/fd.hpp"

namespace forklab::log {

namespace {

struct State {
    std::string role = "main";
    std::string path;  // empty: stderr
    Fd file;           // the open log file, when path is set
};

State& state() {
    static State s;
    return s;
}

Fd open_log(const std::string& path) {
    Fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY, 0640));
    if (!fd) {
        throw_errno("open " + path);
    }
    return fd;
}

}  // namespace

void init(std::string_view role, const std::string& path) {
    State& s = state();
    s.role = role;
    s.path = path;
    s.file = path.empty() ? Fd() : open_log(path);
}

void set_role(std::string_view role) {
    state().role = role;
}

int fd() noexcept {
    const State& s = state();
    return s.file ? s.file.get() : STDERR_FILENO;
}

bool reopen() {
    State& s = state();
    if (s.path.empty()) {
        return true;
    }
    try {
        s.file = open_log(s.path);
    } catch (const std::system_error& e) {
        line("cannot reopen the log, keeping the old file: ", e.what());
        return false;
    }
    line("log reopened");
    return true;
}

void write_line(std::string_view message) noexcept {
    timespec now{};
    ::clock_gettime(CLOCK_REALTIME, &now);
    tm utc{};
    ::gmtime_r(&now.tv_sec, &utc);
    char stamp[96];
    (void)std::snprintf(stamp, sizeof stamp, "%04d-%02d-%02d %02d:%02d:%02d.%03ld",
                        utc.tm_year + 1900, utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min,
                        utc.tm_sec, now.tv_nsec / 1000000);
    try {
        std::string text;
        text.reserve(64 + message.size());
        text.append(stamp).append(" [").append(std::to_string(::getpid())).append(" ");
        text.append(state().role).append("] ").append(message).append("\n");
        write_all(fd(), text.data(), text.size());  // a lost log line is not worth a crash
    } catch (...) {
    }
}

}  // namespace forklab::log
