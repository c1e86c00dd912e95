// The safe-end sequence against the scripted fake Delve: which calls are made, in which order,
// and above all which are not (never halt a stopped process).
#include "agent/delve/safe_end.h"

#include "absl/strings/str_join.h"
#include "agent/delve/testing/fake_delve.h"
#include "common/testing/fake_clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kdbg::delve {
namespace {

using nlohmann::json;
using ::testing::Contains;
using ::testing::ElementsAre;
using testing::FakeDelve;
using testing::FakeProc;
using ::testing::Not;

TEST(ParseExitedError, DelvesExitMessages) {
  EXPECT_EQ(ParseExitedError("Process 4242 has exited with status 2"), 2);
  EXPECT_EQ(ParseExitedError("Process 4242 has exited with status -1"), -1);
  EXPECT_FALSE(ParseExitedError("location \"x\" not found").has_value());
}

class SafeEndTest : public ::testing::Test {
 protected:
  SafeEndTest() : main_(*delve_.Dial("fake")), side_(*delve_.Dial("fake")) {
    t_.halt = absl::Milliseconds(1);
    t_.drain_wait = absl::Milliseconds(1);
    t_.call = absl::Seconds(5);
    delve_.AddBreakpoint(1);
    delve_.AddBreakpoint(7);  // one a remote client set
  }
  SafeEndResult Run() { return RunSafeEnd(main_, side_, 4242, proc_, clock_, t_, {"handleSlash"}); }

  FakeDelve delve_;
  FakeProc proc_;
  kdbg::testing::FakeClock clock_;
  DelveClient main_, side_;
  SafeEndTimeouts t_;
};

TEST_F(SafeEndTest, PendingContinueThatReturnsIsNotHalted) {
  delve_.QueueStop({{"Running", false}, {"Threads", json::array()}});
  ASSERT_TRUE(main_.Send("RPCServer.Command", DelveClient::CommandParams("continue")).ok());
  SafeEndResult r = Run();
  EXPECT_TRUE(r.detached);
  EXPECT_EQ(r.cleared, 2);
  EXPECT_TRUE(r.problems.empty());
  EXPECT_TRUE(delve_.breakpoints().empty());
  EXPECT_THAT(delve_.methods(),
              ElementsAre("RPCServer.Command", "RPCServer.State", "RPCServer.ListBreakpoints",
                          "RPCServer.ClearBreakpoint", "RPCServer.ClearBreakpoint",
                          "RPCServer.ClearBreakpoint", "RPCServer.Detach"));
  for (const auto& [method, params] : delve_.calls()) {
    if (method == "RPCServer.Command") {
      EXPECT_EQ(params["Name"], "continue");
    }
  }
  EXPECT_EQ(delve_.calls().back().second["Kill"], false);
}

// A tracepoint at several addresses (a body and its inlined calls) is one breakpoint listed once
// per address: cleared once, and no problem reported for its other entries (Delve answers "no
// breakpoint with id N" to a second clear).
TEST_F(SafeEndTest, ABreakpointAtSeveralAddressesIsClearedOnce) {
  delve_.AddBreakpoint(3, /*addresses=*/3);
  SafeEndResult r = Run();
  EXPECT_TRUE(r.detached);
  EXPECT_EQ(r.cleared, 3);
  EXPECT_TRUE(r.problems.empty()) << absl::StrJoin(r.problems, "; ");
  EXPECT_TRUE(delve_.breakpoints().empty());
}

TEST_F(SafeEndTest, RunningProcessIsHaltedOnTheSecondConnection) {
  ASSERT_TRUE(main_.Send("RPCServer.Command", DelveClient::CommandParams("continue")).ok());
  ASSERT_TRUE(delve_.running());
  SafeEndResult r = Run();
  EXPECT_TRUE(r.detached);
  EXPECT_FALSE(delve_.running());
  auto calls = delve_.calls();
  ASSERT_GE(calls.size(), 3u);
  EXPECT_EQ(calls[1].first, "RPCServer.State");
  EXPECT_EQ(calls[2].first, "RPCServer.Command");
  EXPECT_EQ(calls[2].second["Name"], "halt");
  EXPECT_EQ(calls.back().first, "RPCServer.Detach");
}

TEST_F(SafeEndTest, StoppedProcessIsNeverHalted) {
  SafeEndResult r = Run();
  EXPECT_TRUE(r.detached);
  for (const auto& [method, params] : delve_.calls()) {
    EXPECT_NE(params.value("Name", ""), "halt") << method;
  }
}

TEST_F(SafeEndTest, PendingSigtrapIsDrainedBeforeDetach) {
  proc_.sigtrap_checks_left_pending = 2;
  SafeEndResult r = Run();
  EXPECT_TRUE(r.detached);
  EXPECT_TRUE(r.problems.empty());
  int continues = 0, halts = 0;
  for (const auto& [method, params] : delve_.calls()) {
    if (params.value("Name", "") == "continue") ++continues;
    if (params.value("Name", "") == "halt") ++halts;
  }
  EXPECT_EQ(continues, 2);
  EXPECT_EQ(halts, 2);  // each drain continue found the process running, so halting was safe
  EXPECT_EQ(delve_.methods().back(), "RPCServer.Detach");
}

TEST_F(SafeEndTest, TargetThatExitedIsOnlyDetached) {
  delve_.QueueStop({{"Running", false}, {"exited", true}, {"exitStatus", 3}});
  ASSERT_TRUE(main_.Send("RPCServer.Command", DelveClient::CommandParams("continue")).ok());
  SafeEndResult r = Run();
  EXPECT_TRUE(r.target_exited);
  EXPECT_EQ(r.exit_status, 3);
  EXPECT_THAT(delve_.methods(), Not(Contains("RPCServer.ListBreakpoints")));
  EXPECT_EQ(delve_.methods().back(), "RPCServer.Detach");
}

// A breakpoint's int3 that is no longer in the stopped target's code (the kernel took it for
// another process's uprobe at the same code of the file: agent/ebpf/build_claims.h) is named in
// the end's problems: its hits were lost. Watchpoints, disabled breakpoints and bytes that cannot
// be read are not judged; the breakpoints are cleared either way.
TEST_F(SafeEndTest, ABreakpointWhoseInt3WasRemovedIsNamed) {
  delve_.On("RPCServer.ListBreakpoints", [](const json&) -> absl::StatusOr<json> {
    return json{{"Breakpoints",
                 json::array({{{"id", -1}, {"name", "unrecovered-panic"}, {"addr", 0x500000}},
                              {{"id", 1}, {"name", "c"}, {"addr", 0x401000}, {"addrs", {0x401000}}},
                              {{"id", 1}, {"name", "c"}, {"addr", 0x402010}, {"addrs", {0x402010}}},
                              {{"id", 7}, {"addr", 0x403000}},
                              {{"id", 8}, {"addr", 0x404000}, {"disabled", true}},
                              {{"id", 9}, {"addr", 0x405000}, {"WatchExpr", "x"}, {"WatchType", 2}},
                              {{"id", 10}, {"addr", 0x7f0000}}})}};
  });
  for (int id : {8, 9, 10}) delve_.AddBreakpoint(id);  // 1 and 7: the fixture's
  std::string text(0x6000, '\x90');
  for (uint64_t a : {0x401000, 0x403000}) text[a - 0x400000] = '\xcc';
  proc_.memory[{4242, 0x400000}] = text;  // 0x402010, 0x404000, 0x405000: no int3 there
  SafeEndResult r = Run();
  EXPECT_TRUE(r.detached);
  EXPECT_THAT(r.problems,
              ElementsAre("breakpoint 1 (c) at 0x402010 was no longer in the target's code: "
                          "something else removed its int3, such as a uprobe of another program "
                          "at that code of the same executable (docs/troubleshooting.md), and its "
                          "hits after that were lost"));
}

}  // namespace
}  // namespace kdbg::delve
