/// \file
/// \brief Starting processes below forklab_keeper and reading its reports.
#include "harness/kept.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>

#include "forklab/error.hpp"
#include "harness/keeper_record.hpp"
#include "harness/procfs.hpp"
#include "harness/wait.hpp"

#ifndef FORKLAB_KEEPER
#error "FORKLAB_KEEPER must name the forklab_keeper binary"
#endif

namespace forklab::test {

int decode_status(int status) {
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::string resolve_binary(const std::string& binary) {
    if (binary.rfind("/proc/self/", 0) == 0) {
        return std::filesystem::read_symlink(binary).string();
    }
    return binary;
}

Kept::Kept(const std::string& binary, const std::vector<std::string>& args, int in, int out,
           int err, const std::vector<int>& pass) {
    Pipe life = make_pipe();
    Pipe reports = make_pipe();
    std::string keeper_path = FORKLAB_KEEPER;
    std::string target = resolve_binary(binary);
    std::vector<char*> argv;
    argv.push_back(keeper_path.data());
    argv.push_back(target.data());
    for (const std::string& a : args) {
        argv.push_back(const_cast<char*>(a.c_str()));
    }
    argv.push_back(nullptr);
    keeper_ = ::fork();
    if (keeper_ == -1) {
        throw_errno("fork");
    }
    if (keeper_ == 0) {
        // Only async-signal-safe calls here: the test may have threads. Everything is first
        // moved above 100, then put in place: 0-2 /dev/null, 3 life, 4 reports, 5-7 the server's
        // stdio, 8 and up what the test passes (forklab_keeper's protocol).
        std::size_t n = std::min<std::size_t>(pass.size(), 16);
        int high[5 + 16];
        int from[5 + 16] = {life.read_end.get(), reports.write_end.get(), in, out, err};
        for (std::size_t i = 0; i < n; ++i) {
            from[5 + i] = pass[i];
        }
        for (std::size_t i = 0; i < 5 + n; ++i) {
            high[i] = ::fcntl(from[i], F_DUPFD, 100);
        }
        int devnull = ::open("/dev/null", O_RDWR);
        for (int fd = 0; fd < 3; ++fd) {
            ::dup2(devnull, fd);
        }
        for (std::size_t i = 0; i < 5 + n; ++i) {
            ::dup2(high[i], static_cast<int>(3 + i));
        }
        ::close_range(static_cast<unsigned>(8 + n), ~0U, 0);
        ::execv(argv[0], argv.data());
        ::_exit(127);
    }
    life_ = std::move(life.write_end);
    reports_ = std::move(reports.read_end);
    // The first report names the started process; a keeper that could not start says nothing.
    KeeperRecord first{};
    pollfd p{reports_.get(), POLLIN, 0};
    if (::poll(&p, 1, 10000) == 1 &&
        ::read(reports_.get(), &first, sizeof first) == static_cast<ssize_t>(sizeof first)) {
        launched_ = first.pid;
    }
    set_nonblocking(reports_.get());
}

Kept::~Kept() {
    end();
}

void Kept::end() {
    if (keeper_ <= 0) {
        return;
    }
    life_.reset();
    int status = 0;
    while (::waitpid(keeper_, &status, 0) == -1 && errno == EINTR) {
    }
    keeper_ = -1;
}

void Kept::drain() {
    KeeperRecord r{};
    while (::read(reports_.get(), &r, sizeof r) == static_cast<ssize_t>(sizeof r)) {
        if (r.kind == KeeperRecord::kExited) {
            exits_[r.pid] = r.status;
        }
    }
}

std::optional<int> Kept::status_of(pid_t pid) {
    drain();
    auto it = exits_.find(pid);
    if (it == exits_.end()) {
        return std::nullopt;
    }
    return it->second;
}

std::optional<int> Kept::wait_for(pid_t pid, std::chrono::milliseconds timeout) {
    std::optional<int> status;
    eventually([&] { return (status = status_of(pid)).has_value(); }, timeout, 2ms);
    return status;
}

std::vector<pid_t> Kept::processes() const {
    return keeper_ > 0 ? procfs::live_descendants(keeper_) : std::vector<pid_t>{};
}

}  // namespace forklab::test
