#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <regex>

#include "forklab/log.hpp"
#include "harness/procfs.hpp"

namespace {

using forklab::procfs::slurp;

class LogTest : public ::testing::Test {
  protected:
    void SetUp() override {
        char templ[] = "/tmp/forklab-log-XXXXXX";
        ASSERT_NE(::mkdtemp(templ), nullptr);
        dir_ = templ;
    }
    void TearDown() override {
        forklab::log::init("test");  // back to stderr, closing the file
        std::filesystem::remove_all(dir_);
    }
    std::string dir_;
};

TEST_F(LogTest, LinesNamePidAndRole) {
    std::string path = dir_ + "/server.log";
    forklab::log::init("master", path);
    forklab::log::line("spawned worker ", 42, " (", "start", ")");
    forklab::log::set_role("worker");
    forklab::log::line("ready");
    std::string pid = std::to_string(::getpid());
    std::regex expected("^\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d\\.\\d{3} \\[" + pid +
                        " master\\] spawned worker 42 \\(start\\)\n"
                        "\\S+ \\S+ \\[" +
                        pid + " worker\\] ready\n$");
    EXPECT_TRUE(std::regex_match(slurp(path), expected)) << slurp(path);
}

TEST_F(LogTest, ReopenFollowsARotatedFile) {
    std::string path = dir_ + "/server.log";
    forklab::log::init("master", path);
    forklab::log::line("before");
    ASSERT_EQ(std::rename(path.c_str(), (path + ".1").c_str()), 0);
    forklab::log::line("still old");
    ASSERT_TRUE(forklab::log::reopen());
    forklab::log::line("after");
    EXPECT_NE(slurp(path + ".1").find("still old"), std::string::npos);
    EXPECT_EQ(slurp(path + ".1").find("after"), std::string::npos);
    EXPECT_NE(slurp(path).find("after"), std::string::npos);
}

TEST_F(LogTest, ReopenFailureKeepsTheOldFile) {
    std::string sub = dir_ + "/sub";
    std::filesystem::create_directory(sub);
    std::string path = sub + "/server.log";
    forklab::log::init("master", path);
    std::filesystem::rename(sub, dir_ + "/moved");
    EXPECT_FALSE(forklab::log::reopen());
    forklab::log::line("kept");
    EXPECT_NE(slurp(dir_ + "/moved/server.log").find("kept"), std::string::npos);
}

TEST_F(LogTest, InitOnAnUnwritablePathThrowsNamingIt) {
    try {
        forklab::log::init("master", dir_ + "/missing/dir/log");
        FAIL() << "no exception";
    } catch (const std::system_error& e) {
        EXPECT_NE(std::string(e.what()).find("open " + dir_ + "/missing/dir/log"),
                  std::string::npos);
    }
}

}  // namespace
