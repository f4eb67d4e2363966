/// \file
/// \brief Chapter 04's records on their own: what a worker's Reporter sends for chapter 03's state
/// changes, how the master's Reports read them, and which workers they call hung.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <vector>

#include "04_adaptive_pool/reporter.hpp"
#include "04_adaptive_pool/reports.hpp"
#include "forklab/fd.hpp"

namespace forklab::ch04 {
namespace {

using namespace std::chrono_literals;
using ch03::SlotState;

/// Every record waiting in \p fd (non-blocking), reassembled.
std::vector<Record> drain(int fd) {
    RecordReader reader;
    std::vector<Record> out;
    char buf[512];
    for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) {
        for (const Record& r : reader.feed(buf, static_cast<std::size_t>(n))) {
            out.push_back(r);
        }
    }
    return out;
}

TEST(Records, TheReporterSendsOnlyWhatTheMasterCounts) {
    Pipe pipe = make_pipe(O_NONBLOCK);
    Reporter reporter(pipe.write_end.get());
    ch03::Slot slot;
    auto change = [&](SlotState s, unsigned long requests) {
        slot.state = static_cast<int>(s);
        slot.requests = requests;
        reporter.changed(slot);
    };
    change(SlotState::starting, 0);   // nothing: a starting worker says nothing
    change(SlotState::waiting, 0);    // idle
    change(SlotState::accepting, 0);  // still idle: nothing
    change(SlotState::busy, 0);       // busy
    change(SlotState::waiting, 1);    // idle
    change(SlotState::accepting, 1);  // nothing
    change(SlotState::exiting, 1);    // exiting
    std::vector<Record> got = drain(pipe.read_end.get());
    ASSERT_EQ(got.size(), 4u);
    EXPECT_EQ(got[0].kind, RecordKind::idle);
    EXPECT_EQ(got[1].kind, RecordKind::busy);
    EXPECT_EQ(got[2].kind, RecordKind::idle);
    EXPECT_EQ(got[2].requests, 1u);
    EXPECT_EQ(got[3].kind, RecordKind::exiting);
    for (const Record& r : got) {
        EXPECT_EQ(r.pid, ::getpid());
        EXPECT_TRUE(well_formed(r));
    }
}

TEST(Records, AReadThatEndsMidRecordLosesNothing) {
    Record a{42, RecordKind::busy, {}, 7};
    Record b{43, RecordKind::idle, {}, 9};
    std::string bytes(reinterpret_cast<const char*>(&a), sizeof a);
    bytes.append(reinterpret_cast<const char*>(&b), sizeof b);
    RecordReader reader;
    EXPECT_TRUE(reader.feed(bytes.data(), 5).empty());
    EXPECT_EQ(reader.pending(), 5u);
    std::vector<Record> got = reader.feed(bytes.data() + 5, bytes.size() - 5);
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(got[0].pid, 42);
    EXPECT_EQ(got[1].requests, 9u);
    EXPECT_EQ(reader.pending(), 0u);
}

TEST(Records, ReportsKnowOurWorkersAndRejectStrangers) {
    Reports reports;
    auto t0 = Reports::Clock::now();
    reports.expect(100, t0);
    ASSERT_NE(reports.find(100), nullptr);
    EXPECT_TRUE(reports.find(100)->idle()) << "a starting worker counts as idle";
    EXPECT_TRUE(reports.take({100, RecordKind::busy, {}, 3}, t0));
    EXPECT_FALSE(reports.find(100)->idle());
    EXPECT_EQ(reports.find(100)->requests, 3u);
    EXPECT_FALSE(reports.take({555, RecordKind::idle, {}, 0}, t0)) << "no such worker";
    Record bad{100, static_cast<RecordKind>(9), {}, 0};
    EXPECT_FALSE(reports.take(bad, t0)) << "no such kind";
    ASSERT_TRUE(reports.forget(100));
    EXPECT_TRUE(reports.take({100, RecordKind::exiting, {}, 3}, t0))
        << "a reaped worker's last words are no error";
    EXPECT_EQ(reports.find(100), nullptr);
}

TEST(Records, OnlyWorkersBusyOrStartingCanBeSilentTooLong) {
    Reports reports;
    auto t0 = Reports::Clock::now();
    reports.expect(1, t0);  // never speaks: stuck in its setup
    reports.expect(2, t0);
    reports.expect(3, t0);
    reports.take({2, RecordKind::busy, {}, 0}, t0);  // stuck in a request
    reports.take({3, RecordKind::idle, {}, 0}, t0);  // waits for a client: never hung
    EXPECT_TRUE(reports.silent(t0 + 900ms, 1s).empty());
    EXPECT_EQ(reports.silent(t0 + 1100ms, 1s), (std::vector<pid_t>{1, 2}));
    reports.take({2, RecordKind::busy, {}, 1}, t0 + 1000ms);  // a sign of life
    EXPECT_EQ(reports.silent(t0 + 1100ms, 1s), (std::vector<pid_t>{1}));
}

}  // namespace
}  // namespace forklab::ch04
