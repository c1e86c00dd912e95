#include "agent/delve/proc_reader.h"

#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "agent/delve/safe_end.h"
#include "gtest/gtest.h"

namespace kdbg::delve {
namespace {

// Trimmed from a real /proc/PID/status of a target halted by Delve with a stale SIGTRAP.
constexpr char kStatus[] =
    "Name:\thello-world\nUmask:\t0022\nState:\tt (tracing stop)\nTgid:\t4242\nPid:\t4242\n"
    "PPid:\t1\nTracerPid:\t4250\nSigQ:\t1/95402\nSigPnd:\t0000000000000000\n"
    "ShdPnd:\t0000000000000010\nSigBlk:\t0000000000000000\n";

TEST(ProcReaderTest, ParsesStatus) {
  auto st = ParseProcStatus(kStatus);
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_EQ(st->ppid, 1);
  EXPECT_EQ(st->state, 't');
  EXPECT_TRUE(st->stopped());
  EXPECT_EQ(st->tracer_pid, 4250);
  EXPECT_EQ(st->shd_pnd & kSigtrapBit, kSigtrapBit);
  EXPECT_EQ(st->sig_pnd, 0u);
  EXPECT_FALSE(ParseProcStatus("Name:\tx\n").ok());
}

TEST(ProcReaderTest, ParsesStartTicksPastParenthesesInTheName) {
  constexpr char kStat[] =
      "4242 (hello (world) x) S 1 4242 4242 0 -1 4194560 1201 0 0 0 12 3 0 0 20 0 9 0 "
      "987654 1234567 1500 18446744073709551615";
  auto t = ParseStartTicks(kStat);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(*t, 987654u);
  EXPECT_FALSE(ParseStartTicks("4242 (x) S 1").ok());
}

TEST(ProcReaderTest, ParsesDelveExitErrors) {
  EXPECT_EQ(ParseExitedError("Process 4242 has exited with status 2"), 2);
  EXPECT_EQ(ParseExitedError("Process 4242 has exited with status -1"), -1);
  EXPECT_FALSE(ParseExitedError("location \"x\" not found").has_value());
}

// A fake /proc tree: the reader is rooted at a directory, as on a node with --proc-root.
class ProcTreeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/kdbg-proc-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    root_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(root_); }
  void Write(const std::string& rel, const std::string& text) {
    std::filesystem::path p = std::filesystem::path(root_) / rel;
    std::filesystem::create_directories(p.parent_path());
    std::ofstream(p) << text;
  }
  std::string root_;
};

TEST_F(ProcTreeTest, SigtrapPendingOnOneThreadOnly) {
  Write("42/status", "State:\tt (tracing stop)\nTracerPid:\t50\nShdPnd:\t0000000000000000\n");
  Write("42/task/42/status", "State:\tt (tracing stop)\nSigPnd:\t0000000000000000\n");
  Write("42/task/43/status", "State:\tt (tracing stop)\nSigPnd:\t0000000000000010\n");
  RealProcReader proc(root_);
  auto pending = proc.SigtrapPending(42);
  ASSERT_TRUE(pending.ok()) << pending.status();
  EXPECT_TRUE(*pending);
  Write("42/task/43/status", "State:\tS (sleeping)\nSigPnd:\t0000000000000100\n");
  EXPECT_FALSE(*proc.SigtrapPending(42));
  EXPECT_EQ(proc.Status(7).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(ProcTreeTest, CmdlineEnvironAndPids) {
  Write("77/cmdline", std::string("dlv\0attach\0"
                                  "42\0--listen=127.0.0.1:4000\0",
                                  38));
  Write("77/environ", std::string("A=1\0KDBG_SESSION_ID=s1\0", 23));
  Write("self/status", "State:\tR\n");
  RealProcReader proc(root_);
  auto argv = proc.Cmdline(77);
  ASSERT_TRUE(argv.ok());
  EXPECT_EQ(*argv, (std::vector<std::string>{"dlv", "attach", "42", "--listen=127.0.0.1:4000"}));
  auto env = proc.Environ(77);
  ASSERT_TRUE(env.ok());
  EXPECT_EQ(env->back(), "KDBG_SESSION_ID=s1");
  EXPECT_EQ(proc.ListPids(), std::vector<pid_t>{77});
}

}  // namespace
}  // namespace kdbg::delve
