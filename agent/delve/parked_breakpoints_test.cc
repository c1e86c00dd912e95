#include "agent/delve/parked_breakpoints.h"

#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "agent/delve/testing/fake_delve.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kdbg::delve {
namespace {

using ::kdbg::delve::testing::FakeDelve;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using json = nlohmann::json;

// Delve's logical breakpoints as its RPCServer keeps them: ListBreakpoints {"All": false} lists
// them, AmendBreakpoint replaces one's settings with those sent and refuses to disable a
// watchpoint (service/debugger's amendBreakpoint).
class BreakpointTable {
 public:
  explicit BreakpointTable(FakeDelve* delve) {
    delve->On("RPCServer.ListBreakpoints", [this](const json& p) -> absl::StatusOr<json> {
      if (p.value("All", true)) return absl::InternalError("the logical list was not asked for");
      absl::MutexLock lock(&mu_);
      json list = json::array();
      for (const auto& [id, bp] : table_) list.push_back(bp);
      return json{{"Breakpoints", list}};
    });
    delve->On("RPCServer.AmendBreakpoint", [this](const json& p) -> absl::StatusOr<json> {
      const json& amend = p["Breakpoint"];
      const int id = amend.value("id", 0);
      absl::MutexLock lock(&mu_);
      auto it = table_.find(id);
      if (it == table_.end())
        return absl::NotFoundError(absl::StrCat("no breakpoint with ID ", id));
      if (id == failing_) return absl::InternalError("could not set breakpoint");
      if (!it->second.value("WatchExpr", "").empty() && amend.value("disabled", false)) {
        return absl::InternalError("can not disable watchpoints");
      }
      json kept_counts = it->second["totalHitCount"];
      it->second = amend;
      it->second["totalHitCount"] = kept_counts;  // Delve keeps its own counts
      return json::object();
    });
  }
  void Add(json bp) {
    const int id = bp.value("id", 0);
    absl::MutexLock lock(&mu_);
    table_[id] = std::move(bp);
  }
  json Get(int id) {
    absl::MutexLock lock(&mu_);
    return table_[id];
  }
  void FailAmendOf(int id) {
    absl::MutexLock lock(&mu_);
    failing_ = id;
  }

 private:
  absl::Mutex mu_;
  std::map<int, json> table_;
  int failing_ = 0;
};

json Breakpoint(int id, const std::string& function, int line) {
  return {{"id", id},
          {"name", ""},
          {"addrs", {4812345 + id}},
          {"file", "/src/app/main.go"},
          {"line", line},
          {"functionName", function},
          {"Cond", ""},
          {"HitCond", ""},
          {"continue", false},
          {"WatchExpr", ""},
          {"totalHitCount", 2},
          {"disabled", false}};
}

std::vector<int> Ids(const std::vector<json>& bps) {
  std::vector<int> ids;
  ids.reserve(bps.size());
  for (const json& bp : bps) ids.push_back(bp.value("id", 0));
  return ids;
}

// A client left a conditional breakpoint, a tracepoint, one it had disabled itself and a
// watchpoint; Delve has its own. Disabled: exactly the client's two enabled breakpoints, their
// settings kept; enabled again: exactly those, as they were. The one the client disabled stays
// disabled, Delve's own and the watchpoint are never touched.
TEST(ParkedBreakpointsTest, DisablesTheClientsEnabledBreakpointsAndEnablesExactlyThoseAgain) {
  FakeDelve delve;
  BreakpointTable table(&delve);
  table.Add({{"id", -1}, {"name", "unrecovered-panic"}, {"disabled", false}});
  json conditional = Breakpoint(1, "main.handleSlash", 10);
  conditional["Cond"] = "r.Method == \"POST\"";
  conditional["HitCond"] = "> 3";
  conditional["name"] = "slow";
  table.Add(conditional);
  json off = Breakpoint(2, "main.other", 20);
  off["disabled"] = true;
  table.Add(off);
  json watch = Breakpoint(3, "", 0);
  watch["WatchExpr"] = "counter";
  table.Add(watch);
  json trace = Breakpoint(4, "main.handleHealth", 30);
  trace["continue"] = true;
  table.Add(trace);
  DelveClient client(*delve.Dial("fake"));

  auto parked = DisableClientBreakpoints(client, absl::Seconds(1));
  ASSERT_TRUE(parked.ok()) << parked.status();
  EXPECT_THAT(Ids(parked->disabled), ElementsAre(1, 4));
  ASSERT_EQ(parked->kept.size(), 1u);
  EXPECT_THAT(parked->kept[0], HasSubstr("3 (watch counter): Delve cannot disable a watchpoint"));
  EXPECT_TRUE(table.Get(1)["disabled"].get<bool>());
  EXPECT_EQ(table.Get(1)["Cond"], "r.Method == \"POST\"");
  EXPECT_EQ(table.Get(1)["HitCond"], "> 3");
  EXPECT_TRUE(table.Get(4)["disabled"].get<bool>());
  EXPECT_TRUE(table.Get(4)["continue"].get<bool>());
  EXPECT_FALSE(table.Get(-1)["disabled"].get<bool>());
  for (const auto& [method, params] : delve.calls()) {
    if (method != "RPCServer.AmendBreakpoint") continue;
    const int id = params["Breakpoint"].value("id", 0);
    EXPECT_TRUE(id == 1 || id == 4) << "amended breakpoint " << id;
  }

  EXPECT_TRUE(EnableAgain(client, parked->disabled, absl::Seconds(1)).empty());
  EXPECT_EQ(table.Get(1), conditional);
  EXPECT_EQ(table.Get(4), trace);
  EXPECT_TRUE(table.Get(2)["disabled"].get<bool>());
}

// An AmendBreakpoint Delve fails leaves that breakpoint as it was and says which and why; the
// others are still disabled. Enabling one again that fails is a problem named the same way.
TEST(ParkedBreakpointsTest, AFailedAmendIsNamedAndTheOthersStillChange) {
  FakeDelve delve;
  BreakpointTable table(&delve);
  table.Add(Breakpoint(1, "main.a", 10));
  table.Add(Breakpoint(2, "main.b", 20));
  table.FailAmendOf(1);
  DelveClient client(*delve.Dial("fake"));
  auto parked = DisableClientBreakpoints(client, absl::Seconds(1));
  ASSERT_TRUE(parked.ok()) << parked.status();
  EXPECT_THAT(Ids(parked->disabled), ElementsAre(2));
  EXPECT_THAT(parked->kept, ElementsAre("1 at main.a (main.go:10): could not set breakpoint"));
  EXPECT_FALSE(table.Get(1)["disabled"].get<bool>());

  table.FailAmendOf(2);
  EXPECT_THAT(EnableAgain(client, parked->disabled, absl::Seconds(1)),
              ElementsAre("2 at main.b (main.go:20): could not set breakpoint"));
}

// Delve that cannot list its breakpoints: an error, and nothing amended.
TEST(ParkedBreakpointsTest, AListThatFailsDisablesNothing) {
  FakeDelve delve;
  delve.On("RPCServer.ListBreakpoints",
           [](const json&) -> absl::StatusOr<json> { return absl::InternalError("busy"); });
  DelveClient client(*delve.Dial("fake"));
  auto parked = DisableClientBreakpoints(client, absl::Seconds(1));
  EXPECT_FALSE(parked.ok());
  EXPECT_THAT(delve.methods(), ElementsAre("RPCServer.ListBreakpoints"));
}

TEST(ParkedBreakpointsTest, DescribesFiveThenCounts) {
  json no_function = Breakpoint(9, "", 42);
  EXPECT_EQ(DescribeBreakpoints({Breakpoint(1, "main.handleSlash", 10), no_function}),
            "1 at main.handleSlash (main.go:10), 9 at main.go:42");
  std::vector<json> many;
  for (int i = 1; i <= 7; ++i) many.push_back(Breakpoint(i, "main.f", i));
  EXPECT_EQ(
      DescribeBreakpoints(many),
      "1 at main.f (main.go:1), 2 at main.f (main.go:2), 3 at main.f (main.go:3), 4 at main.f "
      "(main.go:4), 5 at main.f (main.go:5), and 2 more");
  EXPECT_EQ(DescribeBreakpoints({}), "");
}

}  // namespace
}  // namespace kdbg::delve
