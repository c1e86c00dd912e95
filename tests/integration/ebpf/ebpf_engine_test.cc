// The eBPF engine against the real kernel and a real Go 1.26 optimised target
// (tests/targets/values). Every test checks that the target still answers, was never
// ptrace-attached, and that no uprobe is left in its code (the probed byte in /proc/PID/mem is the
// file's byte again, not int3).
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "agent/delve/delve_engine.h"
#include "agent/delve/delve_home.h"
#include "agent/delve/hit_format.h"
#include "agent/delve/rpc_client.h"
#include "agent/delve/rpc_connection.h"
#include "agent/ebpf/bpf_probes.h"
#include "agent/ebpf/ebpf_session.h"
#include "agent/ebpf/engine_choice.h"
#include "agent/ebpf/plan.h"
#include "agent/gobinary/dwarf.h"
#include "agent/gobinary/go_binary.h"
#include "common/child_process.h"
#include "common/clock.h"
#include "common/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/go_target.h"
#include "tests/support/http_probe.h"
#include "tests/support/proc_probe.h"
#include "tests/support/resolved_target.h"
#include "tests/support/session_events.h"
#include "tests/support/test_env.h"

namespace kdbg::ebpf {
namespace {

using kdbg::testing::GoTarget;
using ::testing::_;
using ::testing::AllOf;
using ::testing::Contains;
using ::testing::Each;
using ::testing::ElementsAre;
using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;
using ::testing::StartsWith;
using ::testing::UnorderedElementsAre;

bool HaveBpf() { return ::geteuid() == 0 && CheckNodeSupport().ok(); }

using Events = kdbg::testing::SessionEvents;

std::string Get(const GoTarget& t, const std::string& path) {
  auto r = kdbg::testing::HttpGet("127.0.0.1", t.port(), path);
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? r->body : "";
}

// The byte at `vaddr` in the live process and in its executable file.
std::pair<int, int> CodeByte(pid_t pid, uint64_t vaddr) {
  int live = -1, file = -1;
  int fd = ::open(absl::StrCat("/proc/", pid, "/mem").c_str(), O_RDONLY | O_CLOEXEC);
  unsigned char b;
  if (fd >= 0 && ::pread(fd, &b, 1, static_cast<off_t>(vaddr)) == 1) live = b;
  if (fd >= 0) ::close(fd);
  auto dwarf = gobinary::DwarfReader::Open(absl::StrCat("/proc/", pid, "/exe"));
  if (dwarf.ok()) {
    auto bytes = (*dwarf)->CodeBytes(vaddr, 1);
    if (bytes.ok() && bytes->size() == 1) file = static_cast<unsigned char>((*bytes)[0]);
  }
  return {live, file};
}

// The plan the engine compiles for `script` against the target's binary.
absl::StatusOr<Plan> PlanFor(pid_t pid, const std::string& script) {
  KDBG_ASSIGN_OR_RETURN(auto dwarf,
                        gobinary::DwarfReader::Open(absl::StrCat("/proc/", pid, "/exe")));
  KDBG_ASSIGN_OR_RETURN(auto parsed, delve::ParseTraceScript(script, "t"));
  return CompilePlan(parsed, "t", *dwarf);
}

// Where the engine puts the probe of `function` in the target.
uint64_t ProbeAddress(pid_t pid, const std::string& function) {
  auto plan = PlanFor(pid, absl::StrCat("trace ", function, "\n"));
  return plan.ok() ? plan->probes[0].address : 0;
}

// The op codes the probe's program runs for `slot`, in order.
std::vector<int> SlotOps(const ProbePlan& probe, uint16_t slot) {
  std::vector<int> out;
  for (const kdbg_op& op : probe.ops) {
    if (op.slot == slot) out.push_back(op.code);
  }
  return out;
}

void ExpectReleased(const GoTarget& t, uint64_t probe_vaddr) {
  auto st = kdbg::testing::ReadProcStatus(t.pid());
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_EQ(st->tracer_pid, 0);
  EXPECT_EQ(Get(t, "/"), "ok\n");
  if (probe_vaddr != 0) {
    auto [live, file] = CodeByte(t.pid(), probe_vaddr);
    EXPECT_NE(live, -1);
    EXPECT_EQ(live, file) << "a uprobe's int3 is still in the target's code";
  }
}

agent::TraceSpec Spec(pid_t pid, const std::string& script) {
  agent::TraceSpec s;
  s.session_id = "ebpf-test";
  s.pid = pid;
  s.script = script;
  s.script_name = "t.dlv";
  return s;
}

constexpr char kOrderScript[] =
    "trace h main.handleOrder\n"
    "on h print tag\n"
    "on h print o.ID\n"
    "on h print o.Customer.Name\n"
    "on h print len(o.Items)\n"
    "on h print o.Paid\n"
    "on h print o.Weight\n"
    "on h print o.Customer.Tier\n"
    "on h print d.Text\n"
    "on h print d\n";

TEST(EbpfEngineTest, HitsCarryParameterFieldAndInterfaceValues) {
  KDBG_REQUIRE_REAL(HaveBpf(), "root and a kernel with BPF uprobes");
  auto t = GoTarget::Start("values");
  ASSERT_TRUE(t.ok()) << t.status();
  uint64_t probe = ProbeAddress((*t)->pid(), "main.handleOrder");
  ASSERT_NE(probe, 0u);
  Events ev;
  auto factory = NewEbpfSessionFactory({});
  auto s = factory->StartTrace(Spec((*t)->pid(), kOrderScript), ev.Callback());
  ASSERT_TRUE(s.ok()) << s.status();
  // Armed: the probe's int3 is in the target's code, and nobody ptraces it.
  EXPECT_EQ(CodeByte((*t)->pid(), probe).first, 0xcc);
  EXPECT_EQ(kdbg::testing::ReadProcStatus((*t)->pid())->tracer_pid, 0);
  // A string in memory (o.Customer.Name, slot 2) is read with its pointer and length in one
  // read after one walk of the chain; a string parameter in registers (tag, slot 0) reads none.
  auto plan = PlanFor((*t)->pid(), kOrderScript);
  ASSERT_TRUE(plan.ok()) << plan.status();
  const std::vector<int> name_ops = SlotOps(plan->probes[0], 2);
  EXPECT_EQ(std::count(name_ops.begin(), name_ops.end(), KDBG_OP_LOAD2), 1);
  EXPECT_EQ(std::count(name_ops.begin(), name_ops.end(), KDBG_OP_STORE), 0);
  EXPECT_EQ(SlotOps(plan->probes[0], 0),
            (std::vector<int>{KDBG_OP_ALT, KDBG_OP_REG, KDBG_OP_STORE, KDBG_OP_REG, KDBG_OP_STORE,
                              KDBG_OP_STR, KDBG_OP_END}));
  Get(**t, "/order?id=7&name=ann&items=a,b,c&paid=1&tag=first&qty=2&label=lbl");
  Get(**t, "/order?id=-12&items=x&tag=" + std::string(70, 'z'));
  ASSERT_TRUE(ev.WaitHits(2));
  (*s)->RequestEnd(v1::END_REASON_CLIENT_STOP);
  auto ended = (*s)->Wait(absl::Seconds(10));
  ASSERT_TRUE(ended.ok()) << ended.status();
  EXPECT_EQ(ended->reason(), v1::END_REASON_CLIENT_STOP);
  EXPECT_TRUE(ended->target_alive());
  EXPECT_FALSE(ended->target_traced());
  EXPECT_EQ(ended->hits(), 2);

  auto all = ev.All();
  ASSERT_TRUE(all.front().has_armed());
  EXPECT_EQ(all.front().armed().engine(), "ebpf");
  EXPECT_EQ(all.front().armed().tracepoints(0).function(), "main.handleOrder");
  auto hits = ev.Hits();
  ASSERT_EQ(hits.size(), 2u);
  auto vars = [](const v1::HitEvent& h) {
    std::vector<std::string> out;
    for (const auto& v : h.vars()) out.push_back(absl::StrCat(v.name(), "=", v.value()));
    return out;
  };
  EXPECT_THAT(
      vars(hits[0]),
      ::testing::ElementsAre("tag=\"first\"", "o.ID=7", "o.Customer.Name=\"ann\"", "len(o.Items)=3",
                             "o.Paid=true", "o.Weight=21", "o.Customer.Tier=3", "d.Text=\"lbl\"",
                             "d=main.Describer(main.label {Text: \"lbl\", N: 7})"));
  // An interface printed: its dynamic value, read by its type's subprogram (a *main.Order: its
  // []string element by element).
  EXPECT_THAT(
      vars(hits[1]),
      ::testing::ElementsAre(
          absl::StrCat("tag=\"", std::string(64, 'z'), "\"...+6 more"), "o.ID=-12",
          "o.Customer.Name=\"\"", "len(o.Items)=1", "o.Paid=false", "o.Weight=65500",
          "o.Customer.Tier=0", HasSubstr("d.Text=(unreadable"),
          "d=main.Describer(*main.Order {ID: -12, Customer: *main.Customer {...}, Items: []string "
          "len: 1, cap: 1, [\"x\"], Paid: false, Note: \"\", Weight: 65500})"));
  EXPECT_GT(hits[0].goroutine(), 0);
  EXPECT_EQ(hits[0].function(), "main.handleOrder");
  EXPECT_EQ(hits[0].hit_count(), 1);
  EXPECT_EQ(hits[1].hit_count(), 2);
  ExpectReleased(**t, probe);
}

}  // namespace
}  // namespace kdbg::ebpf

namespace kdbg::ebpf {
namespace {

// Runs `script` (printing o.ID first) against /order requests with `queries`; returns the o.ID
// of every hit, in order. The condition is evaluated by the BPF program: a hit that does not
// match never leaves the kernel.
std::vector<std::string> IdsOfHits(const std::string& script,
                                   const std::vector<std::string>& queries,
                                   std::string* armed_cond = nullptr) {
  auto t = GoTarget::Start("values");
  EXPECT_TRUE(t.ok()) << t.status();
  if (!t.ok()) return {};
  Events ev;
  auto factory = NewEbpfSessionFactory({});
  auto s = factory->StartTrace(Spec((*t)->pid(), script), ev.Callback());
  EXPECT_TRUE(s.ok()) << s.status();
  if (!s.ok()) return {};
  for (const std::string& q : queries) Get(**t, "/order?" + q);
  absl::SleepFor(absl::Milliseconds(200));  // hits leave the engine within 10 ms
  (*s)->RequestEnd(v1::END_REASON_CLIENT_STOP);
  auto ended = (*s)->Wait(absl::Seconds(10));
  EXPECT_TRUE(ended.ok());
  auto all = ev.All();
  if (armed_cond != nullptr && !all.empty() && all.front().has_armed()) {
    *armed_cond = all.front().armed().tracepoints(0).cond();
  }
  std::vector<std::string> ids;
  for (const auto& h : ev.Hits()) ids.push_back(h.vars(0).value());
  ExpectReleased(**t, 0);
  return ids;
}

TEST(EbpfEngineTest, ConditionsRunInTheBpfProgramExactlyAsGoComparesThem) {
  KDBG_REQUIRE_REAL(HaveBpf(), "root and a kernel with BPF uprobes");
  const std::string head = "trace h main.handleOrder\non h print o.ID\n";
  std::string armed;
  // Strings: equal length and bytes; a longer string with the same first bytes does not match.
  EXPECT_THAT(
      IdsOfHits(head + "cond h o.Customer.Name == \"ann\"\n",
                {"id=1&name=ann", "id=2&name=bob", "id=3&name=annx", "id=4", "id=5&name=ann"},
                &armed),
      ::testing::ElementsAre("1", "5"));
  EXPECT_EQ(armed, "o.Customer.Name == \"ann\"");
  std::string z64(64, 'z');
  EXPECT_THAT(IdsOfHits(head + "cond h tag == \"" + z64 + "\"\n",
                        {"id=1&tag=" + z64, "id=2&tag=" + z64 + "zzzzzz", "id=3&tag=" + z64}),
              ::testing::ElementsAre("1", "3"));
  EXPECT_THAT(IdsOfHits(head + "cond h tag != \"\"\n", {"id=1", "id=2&tag=x"}),
              ::testing::ElementsAre("2"));
  // Signed integers (int64, int8 through a pointer, int in a register), unsigned (uint16).
  EXPECT_THAT(IdsOfHits(head + "cond h o.ID < -5\n", {"id=-12", "id=3", "id=-5", "id=-6"}),
              ::testing::ElementsAre("-12", "-6"));
  EXPECT_THAT(IdsOfHits(head + "cond h o.Customer.Tier >= 3\n",
                        {"id=1&name=abc", "id=2&name=abcd", "id=3&name=a"}),
              ::testing::ElementsAre("1", "2"));
  EXPECT_THAT(IdsOfHits(head + "cond h qty == -2\n", {"id=1&qty=-2", "id=2&qty=2"}),
              ::testing::ElementsAre("1"));
  EXPECT_THAT(IdsOfHits(head + "cond h o.Weight >= 30\n", {"id=9", "id=10", "id=11", "id=-1"}),
              ::testing::ElementsAre("10", "11", "-1"));  // uint16(-3) = 65533
  // Booleans, len(), nil.
  EXPECT_THAT(IdsOfHits(head + "cond h o.Paid\n", {"id=1&paid=1", "id=2", "id=3&paid=1"}),
              ::testing::ElementsAre("1", "3"));
  EXPECT_THAT(IdsOfHits(head + "cond h !urgent\n", {"id=1&urgent=1", "id=2"}),
              ::testing::ElementsAre("2"));
  EXPECT_THAT(IdsOfHits(head + "cond h len(o.Items) > 2\n", {"id=1&items=a,b,c", "id=2&items=a"}),
              ::testing::ElementsAre("1"));
  EXPECT_THAT(IdsOfHits(head + "cond h o.Customer == nil\n", {"id=1", "id=2"}),
              ::testing::IsEmpty());
  // An interface is nil when its itab word is (d holds an *Order or a label, never nil).
  EXPECT_THAT(IdsOfHits(head + "cond h d != nil\n", {"id=1", "id=2&label=x"}),
              ::testing::ElementsAre("1", "2"));
  EXPECT_THAT(IdsOfHits(head + "cond h d == nil\n", {"id=1", "id=2&label=x"}),
              ::testing::IsEmpty());
}

// A condition the BPF program cannot evaluate exactly keeps the script off eBPF, naming the line
// and why (with `auto` the session runs on Delve with that reason).
TEST(EbpfEngineTest, ConditionsItCannotEvaluateExactlyAreRefusedWithTheReason) {
  KDBG_REQUIRE_REAL(HaveBpf(), "root and a kernel with BPF uprobes");
  auto t = GoTarget::Start("values");
  ASSERT_TRUE(t.ok()) << t.status();
  auto factory = NewEbpfSessionFactory({});
  struct Case {
    std::string cond;
    std::string reason;
  } cases[] = {
      {"o.ID > 1 || o.Paid", "t.dlv:3: condition `o.ID > 1 || o.Paid`"},
      {"o.Customer.Name == tag", "t.dlv:3: condition `o.Customer.Name == tag`"},
      {"o.Customer.Tier > 200",
       "t.dlv:3: cond o.Customer.Tier > 200: compares a int8 with a "
       "constant out of its range"},
      {"o.Customer.Name < \"b\"", "t.dlv:3: cond o.Customer.Name < \"b\": compares a string"},
  };
  for (const Case& c : cases) {
    auto s = factory->StartTrace(
        Spec((*t)->pid(), "trace h main.handleOrder\non h print o.ID\ncond h " + c.cond + "\n"),
        nullptr);
    ASSERT_FALSE(s.ok()) << c.cond;
    EXPECT_EQ(s.status().code(), absl::StatusCode::kUnimplemented) << s.status();
    EXPECT_THAT(std::string(s.status().message()), HasSubstr(c.reason));
  }
  ExpectReleased(**t, 0);
}

TEST(EbpfEngineTest, DeepRecursionGivesOneEventPerCall) {
  KDBG_REQUIRE_REAL(HaveBpf(), "root and a kernel with BPF uprobes");
  auto t = GoTarget::Start("values");
  ASSERT_TRUE(t.ok()) << t.status();
  Events ev;
  auto factory = NewEbpfSessionFactory({});
  agent::TraceSpec spec = Spec((*t)->pid(), "trace main.recurse\non 1 print n\n");
  spec.requested_hits_per_second = 100000;
  auto s = factory->StartTrace(spec, ev.Callback());
  ASSERT_TRUE(s.ok()) << s.status();
  // 20,001 calls with ~540-byte frames: the goroutine's stack grows from 8 KiB to 16 MiB, and
  // each growth re-enters recurse from its entry.
  EXPECT_FALSE(Get(**t, "/recurse?n=20000").empty());
  ASSERT_TRUE(ev.WaitHits(20001));
  ASSERT_TRUE(ev.WaitHits(20001, absl::Seconds(10), /*returns=*/true));
  absl::SleepFor(absl::Milliseconds(100));
  (*s)->RequestEnd(v1::END_REASON_CLIENT_STOP);
  auto ended = (*s)->Wait(absl::Seconds(10));
  ASSERT_TRUE(ended.ok());
  EXPECT_THAT(ended->message(), HasSubstr("(0 hits dropped)"));
  auto hits = ev.Hits();
  ASSERT_EQ(hits.size(), 20001u) << "one event per call, even when the stack grows";
  // In call order, n counts down from 20000 to 0, all on one goroutine.
  for (size_t i = 0; i < hits.size(); ++i) {
    ASSERT_EQ(hits[i].vars(0).value(), absl::StrCat(20000 - static_cast<int>(i))) << i;
    ASSERT_EQ(hits[i].goroutine(), hits[0].goroutine());
  }
  // And exactly one return per call (uprobes on recurse's RETs: the stack copies of each growth
  // change nothing), innermost first: recurse(0) returns pad[0], which the calls with n = 64, 128,
  // ..., 19968 incremented (312), and each caller returns that plus one.
  auto returns = ev.Returns();
  ASSERT_EQ(returns.size(), 20001u) << "one return event per call";
  for (size_t i = 0; i < returns.size(); ++i) {
    ASSERT_EQ(returns[i].results_size(), 1) << i;
    ASSERT_EQ(returns[i].results(0).value(), absl::StrCat(312 + i)) << i;
    ASSERT_EQ(returns[i].goroutine(), hits[0].goroutine());
    ASSERT_EQ(returns[i].function(), "main.recurse");
  }
  EXPECT_EQ(returns.back().hit_count(), 20001);
  ExpectReleased(**t, ProbeAddress((*t)->pid(), "main.recurse"));
}

// A tracepoint with a condition reports the returns of the calls it reported, and only those:
// the BPF program pairs each with its call by goroutine and depth in the goroutine's stack, which
// the stack's growth (here from 8 KiB to 16 MiB while a's calls are pending) does not change.
TEST(EbpfEngineTest, AConditionalTracepointReportsTheReturnsOfItsCalls) {
  KDBG_REQUIRE_REAL(HaveBpf(), "root and a kernel with BPF uprobes");
  auto t = GoTarget::Start("values");
  ASSERT_TRUE(t.ok()) << t.status();
  Events ev;
  auto factory = NewEbpfSessionFactory({});
  agent::TraceSpec spec = Spec((*t)->pid(),
                               "trace a main.recurse\ncond a n >= 19990\non a print n\n"
                               "trace b main.recurse\ncond b n <= 3\non b print n\n");
  spec.requested_hits_per_second = 100000;
  auto s = factory->StartTrace(spec, ev.Callback());
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_FALSE(Get(**t, "/recurse?n=20000").empty());
  ASSERT_TRUE(ev.WaitHits(15));
  ASSERT_TRUE(ev.WaitHits(15, absl::Seconds(10), /*returns=*/true));
  absl::SleepFor(absl::Milliseconds(200));
  (*s)->RequestEnd(v1::END_REASON_CLIENT_STOP);
  ASSERT_TRUE((*s)->Wait(absl::Seconds(10)).ok());
  std::vector<std::string> calls, returns;
  for (const v1::HitEvent& h : ev.Hits()) {
    calls.push_back(absl::StrCat(h.tracepoint(), " n=", h.vars(0).value()));
  }
  // recurse(n) returns 312 + n (DeepRecursionGivesOneEventPerCall), innermost first.
  for (const v1::HitEvent& r : ev.Returns()) {
    ASSERT_EQ(r.results_size(), 1);
    returns.push_back(absl::StrCat(r.tracepoint(), " => ", r.results(0).value()));
  }
  std::vector<std::string> want_calls, want_returns;
  for (int n = 20000; n >= 19990; --n) want_calls.push_back(absl::StrCat("a n=", n));
  for (int n = 3; n >= 0; --n) want_calls.push_back(absl::StrCat("b n=", n));
  for (int n = 0; n <= 3; ++n) want_returns.push_back(absl::StrCat("b => ", 312 + n));
  for (int n = 19990; n <= 20000; ++n) want_returns.push_back(absl::StrCat("a => ", 312 + n));
  EXPECT_EQ(calls, want_calls);
  EXPECT_EQ(returns, want_returns);
  ExpectReleased(**t, ProbeAddress((*t)->pid(), "main.recurse"));
}

// A reported call that never returns (a panic through it, recovered by its caller) leaves its key
// behind; the next call at that depth whose condition fails must not report its return as if it
// were the panicking call's.
TEST(EbpfEngineTest, AConditionalCallThatPanickedLeavesNoReturnToTheNextCall) {
  KDBG_REQUIRE_REAL(HaveBpf(), "root and a kernel with BPF uprobes");
  auto t = GoTarget::Start("values");
  ASSERT_TRUE(t.ok()) << t.status();
  Events ev;
  auto factory = NewEbpfSessionFactory({});
  agent::TraceSpec spec =
      Spec((*t)->pid(), "trace main.mayPanic\ncond 1 n == 1\non 1 print n\non 1 print boom\n");
  auto s = factory->StartTrace(spec, ev.Callback());
  ASSERT_TRUE(s.ok()) << s.status();
  // mayPanic(1, true) panics (reported, no return); mayPanic(2) and (3), same frame, fail the
  // condition. Then mayPanic(1, false) is reported and returns 2.
  EXPECT_EQ(Get(**t, "/panics?n=3&boom=1"), "9\n");
  EXPECT_EQ(Get(**t, "/panics?n=1"), "2\n");
  ASSERT_TRUE(ev.WaitHits(2));
  ASSERT_TRUE(ev.WaitHits(1, absl::Seconds(10), /*returns=*/true));
  absl::SleepFor(absl::Milliseconds(200));
  (*s)->RequestEnd(v1::END_REASON_CLIENT_STOP);
  ASSERT_TRUE((*s)->Wait(absl::Seconds(10)).ok());
  std::vector<std::string> calls, returns;
  for (const v1::HitEvent& h : ev.Hits()) {
    ASSERT_EQ(h.vars_size(), 2);
    calls.push_back(absl::StrCat("n=", h.vars(0).value(), " boom=", h.vars(1).value()));
  }
  for (const v1::HitEvent& r : ev.Returns()) {
    ASSERT_EQ(r.results_size(), 1);
    returns.push_back(absl::StrCat("=> ", r.results(0).value()));
  }
  EXPECT_THAT(calls, ::testing::ElementsAre("n=1 boom=true", "n=1 boom=false"));
  EXPECT_THAT(returns, ::testing::ElementsAre("=> 2"))
      << "mayPanic(2)'s return (=> 4) is of a call not shown";
  ExpectReleased(**t, ProbeAddress((*t)->pid(), "main.mayPanic"));
}

// A frame above 4 KiB has another stack check (MOVQ SP, R12; SUBQ $N, R12; JB; CMPQ R12,
// 16(R14); JBE): the probe sits on its JBE too, so a call whose stack grows is still one event.
TEST(EbpfEngineTest, ABigFrameFunctionGivesOneEventPerCall) {
  KDBG_REQUIRE_REAL(HaveBpf(), "root and a kernel with BPF uprobes");
  auto t = GoTarget::Start("values");
  ASSERT_TRUE(t.ok()) << t.status();
  const std::string script = "trace main.bigRecurse\non 1 print n\n";
  auto plan = PlanFor((*t)->pid(), script);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_TRUE(plan->probes[0].check_flags) << "the probe is on the stack check's JBE";
  Events ev;
  auto factory = NewEbpfSessionFactory({});
  agent::TraceSpec spec = Spec((*t)->pid(), script);
  spec.requested_hits_per_second = 100000;
  auto s = factory->StartTrace(spec, ev.Callback());
  ASSERT_TRUE(s.ok()) << s.status();
  // 2,001 calls with ~4.7 KiB frames: the stack grows from 8 KiB to 16 MiB.
  EXPECT_FALSE(Get(**t, "/recurse?n=2000&big=1").empty());
  ASSERT_TRUE(ev.WaitHits(2001));
  absl::SleepFor(absl::Milliseconds(100));
  (*s)->RequestEnd(v1::END_REASON_CLIENT_STOP);
  ASSERT_TRUE((*s)->Wait(absl::Seconds(10)).ok());
  auto hits = ev.Hits();
  ASSERT_EQ(hits.size(), 2001u) << "one event per call, even when the stack grows";
  for (size_t i = 0; i < hits.size(); ++i) {
    ASSERT_EQ(hits[i].vars(0).value(), absl::StrCat(2000 - static_cast<int>(i))) << i;
  }
  ExpectReleased(**t, ProbeAddress((*t)->pid(), "main.bigRecurse"));
}

TEST(EbpfEngineTest, SigkilledTracerLeavesNoProbe) {
  KDBG_REQUIRE_REAL(HaveBpf(), "root and a kernel with BPF uprobes");
  auto t = GoTarget::Start("values");
  ASSERT_TRUE(t.ok()) << t.status();
  uint64_t probe = ProbeAddress((*t)->pid(), "main.handleOrder");
  std::string dir = kdbg::testing::MakeTempDir("ebpf-kill");
  std::string script = dir + "/t.dlv", out = dir + "/events.jsonl";
  std::ofstream(script) << kOrderScript;
  SpawnOptions o;
  o.argv = {kdbg::testing::BinaryDir() + "/tests/integration/ebpf/kdbg_ebpf_test_tracer",
            absl::StrCat((*t)->pid()), script, "60"};
  o.stdout_path = out;
  auto tracer = ChildProcess::Spawn(o);
  ASSERT_TRUE(tracer.ok()) << tracer.status();
  auto read_out = [&] {
    std::ifstream f(out);
    return std::string(std::istreambuf_iterator<char>(f), {});
  };
  for (int i = 0; i < 100 && !absl::StrContains(read_out(), "\"armed\""); ++i) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  ASSERT_THAT(read_out(), HasSubstr("\"armed\""));
  Get(**t, "/order?id=1&tag=before");
  for (int i = 0; i < 100 && !absl::StrContains(read_out(), "\"hit\""); ++i) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_THAT(read_out(), HasSubstr("before"));
  EXPECT_EQ(CodeByte((*t)->pid(), probe).first, 0xcc);
  ASSERT_TRUE((*tracer)->Signal(SIGKILL).ok());
  ASSERT_TRUE((*tracer)->Wait(absl::Seconds(5)).ok());
  // The kernel closed the tracer's descriptors: the uprobe is gone from the target's code, the
  // target keeps serving the traced function, and no legacy tracefs probe exists.
  for (int i = 0; i < 50 && CodeByte((*t)->pid(), probe).first == 0xcc; ++i) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  for (int i = 0; i < 20; ++i) {
    EXPECT_THAT(Get(**t, absl::StrCat("/order?id=", i, "&tag=after")), HasSubstr("order"));
  }
  std::ifstream events("/sys/kernel/tracing/uprobe_events");
  std::string legacy(std::istreambuf_iterator<char>(events), {});
  EXPECT_THAT(legacy, ::testing::Not(HasSubstr("values")));
  EXPECT_THAT(read_out(), ::testing::Not(HasSubstr("after")));
  ExpectReleased(**t, probe);
  std::filesystem::remove_all(dir);
}

// The agent's capabilities as the chart grants them (charts/kdbg, agent.ebpf): the tracer runs as
// root with only those capabilities in its bounding set (setpriv), as runc starts the agent.
// CAP_BPF + CAP_PERFMON (what the chart granted before) load the program, but current kernels
// refuse the uprobe without CAP_SYS_ADMIN ("perf: Require CAP_SYS_ADMIN for uprobes", 2025): the
// agent's self-test says so with the kernel's words. With CAP_SYS_ADMIN it passes, and a real trace
// of a target running as another user arms and reports hits.
std::string RunLimited(const std::string& caps, const std::vector<std::string>& args,
                       int* exit_code) {
  std::string dir = kdbg::testing::MakeTempDir("ebpf-caps");
  SpawnOptions o;
  o.argv = {"setpriv",
            "--bounding-set",
            "-all," + caps,
            "--inh-caps",
            "-all",
            "--",
            kdbg::testing::BinaryDir() + "/tests/integration/ebpf/kdbg_ebpf_test_tracer"};
  o.argv.insert(o.argv.end(), args.begin(), args.end());
  o.stdout_path = dir + "/out";
  o.stderr_to_stdout = true;
  auto p = ChildProcess::Spawn(o);
  EXPECT_TRUE(p.ok()) << p.status();
  *exit_code = -1;
  if (p.ok()) {
    auto rc = (*p)->Wait(absl::Seconds(60));
    EXPECT_TRUE(rc.ok()) << rc.status();
    if (rc.ok()) *exit_code = *rc;
  }
  std::ifstream f(dir + "/out");
  std::string out(std::istreambuf_iterator<char>(f), {});
  std::filesystem::remove_all(dir);
  return out;
}

TEST(EbpfEngineTest, TheChartsCapabilitiesRunTheEngine) {
  KDBG_REQUIRE_REAL(HaveBpf(), "root and a kernel with BPF uprobes");
  KDBG_REQUIRE_REAL(::access("/usr/bin/setpriv", X_OK) == 0, "setpriv (util-linux)");
  int rc = 0;
  std::string out =
      RunLimited("+sys_ptrace,+dac_read_search,+kill,+bpf,+perfmon", {"--self-test"}, &rc);
  // A kernel older than the change still takes CAP_PERFMON: then the self-test passes.
  if (rc != 0) {
    EXPECT_THAT(out, HasSubstr("attach a uprobe to /proc/self/exe at offset 0x"));
    EXPECT_THAT(out, HasSubstr("Permission denied"));
    EXPECT_THAT(out, HasSubstr("CAP_SYS_ADMIN"));
  } else {
    EXPECT_EQ(out, "ok\n");
  }
  const std::string chart = "+sys_ptrace,+dac_read_search,+kill,+sys_admin";
  out = RunLimited(chart, {"--self-test"}, &rc);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_EQ(out, "ok\n");

  // A target of another user (65534, nobody), traced with the chart's capabilities.
  // Its own copy, readable by that user wherever the build directory is.
  std::string dir = kdbg::testing::MakeTempDir("ebpf-caps-target");
  namespace fs = std::filesystem;
  fs::copy_file(kdbg::testing::BinaryDir() + "/targets/values", dir + "/values");
  fs::permissions(dir, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                           fs::perms::others_read | fs::perms::others_exec);
  fs::permissions(dir + "/values", fs::perms::owner_all | fs::perms::group_read |
                                       fs::perms::group_exec | fs::perms::others_read |
                                       fs::perms::others_exec);
  int port = kdbg::testing::FreePort();
  SpawnOptions t;
  t.argv = {"setpriv", "--reuid",        "65534", "--regid",
            "65534",   "--clear-groups", "--",    dir + "/values"};
  t.extra_env = {absl::StrCat("HELLO_ADDR=127.0.0.1:", port)};
  auto target = ChildProcess::Spawn(t);
  ASSERT_TRUE(target.ok()) << target.status();
  ASSERT_TRUE(kdbg::testing::WaitForHttp("127.0.0.1", port, absl::Seconds(10)).ok());
  std::string script = dir + "/t.dlv";
  std::ofstream(script) << "trace h main.handleOrder\non h print tag\n";
  std::thread load([&] {
    for (int i = 0; i < 40; ++i) {
      (void)kdbg::testing::HttpGet("127.0.0.1", port,
                                   absl::StrCat("/order?id=", i, "&tag=caps&memo=m"));
      absl::SleepFor(absl::Milliseconds(100));
    }
  });
  out = RunLimited(chart, {absl::StrCat((*target)->pid()), script, "3"}, &rc);
  load.join();
  EXPECT_EQ(rc, 0) << out;
  EXPECT_THAT(out, HasSubstr("\"armed\""));
  EXPECT_THAT(out, HasSubstr("caps"));  // a hit's tag
  // d's itab was made at run time: its type read from the target's memory (/proc/PID/mem, which
  // CAP_SYS_PTRACE opens for another user's process).
  EXPECT_THAT(out, HasSubstr("main.Describer((*main.memo)(0x"));
  auto st = kdbg::testing::ReadProcStatus((*target)->pid());
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_EQ(st->tracer_pid, 0);
  (void)(*target)->Terminate(absl::Seconds(2));
  std::filesystem::remove_all(dir);
}

// A killed agent's records: each session writes down its probes before attaching them and removes
// the record once they are detached; ClearLeftProbes places and removes each recorded probe whose
// process still runs (the kernel restores the instruction a kill during the detach can leave as
// int3), skips a process that is gone or another process with that PID, and deletes the records.
TEST(EbpfEngineTest, ClearLeftProbesClearsWhatARecordNames) {
  KDBG_REQUIRE_REAL(HaveBpf(), "root and a kernel with BPF uprobes");
  auto t = GoTarget::Start("values");
  ASSERT_TRUE(t.ok()) << t.status();
  std::string dir = kdbg::testing::MakeTempDir("ebpf-records");
  EbpfOptions o;
  o.record_dir = dir;
  auto factory = NewEbpfSessionFactory(o);
  Events ev;
  auto s = factory->StartTrace(Spec((*t)->pid(), kOrderScript), ev.Callback());
  ASSERT_TRUE(s.ok()) << s.status();
  const std::string record = dir + "/ebpf-test.probes";
  std::ifstream in(record);
  std::string line;
  ASSERT_TRUE(std::getline(in, line)) << "no record while armed";
  std::vector<std::string> f = absl::StrSplit(line, ' ');
  ASSERT_EQ(f.size(), 3u) << line;
  EXPECT_EQ(f[0], absl::StrCat((*t)->pid()));
  (*s)->RequestEnd(v1::END_REASON_CLIENT_STOP);
  ASSERT_TRUE((*s)->Wait(absl::Seconds(10)).ok());
  EXPECT_FALSE(std::filesystem::exists(record)) << "the record outlived a clean detach";

  // What a killed agent leaves: the record (a live process, then a gone one).
  const uint64_t probe = ProbeAddress((*t)->pid(), "main.handleOrder");
  std::ofstream(dir + "/killed.probes") << line << "\n"
                                        << "999999999 1 " << f[2] << "\n";
  EXPECT_EQ(ClearLeftProbes(o), 1);
  EXPECT_FALSE(std::filesystem::exists(dir + "/killed.probes"));
  EXPECT_THAT(Get(**t, "/order?id=1&tag=after"), HasSubstr("order"));
  ExpectReleased(**t, probe);
  EXPECT_EQ(ClearLeftProbes(o), 0);  // nothing left to clear
  std::filesystem::remove_all(dir);
}

// Events reach the session through the ring buffer's consumer, later on a loaded machine (a test
// failed once with a fixed 200 ms wait and no event yet): waits up to 10 s for the disarm's
// notice, then lets the hits queued before it drain. False if none came.
bool WaitForRateLimited(Events& ev) {
  auto noticed = [&ev] {
    for (const auto& n : ev.Notices()) {
      if (n.kind() == kdbg::v1::NOTICE_KIND_RATE_LIMITED) return true;
    }
    return false;
  };
  const absl::Time deadline = kdbg::MonotonicNow() + absl::Seconds(10);
  while (!noticed() && kdbg::MonotonicNow() < deadline) absl::SleepFor(absl::Milliseconds(20));
  absl::SleepFor(absl::Milliseconds(200));
  return noticed();
}

TEST(EbpfEngineTest, ProbeOverItsRateIsDisarmedWithANotice) {
  KDBG_REQUIRE_REAL(HaveBpf(), "root and a kernel with BPF uprobes");
  auto t = GoTarget::Start("values");
  ASSERT_TRUE(t.ok()) << t.status();
  Events ev;
  auto factory = NewEbpfSessionFactory({});
  agent::TraceSpec spec = Spec((*t)->pid(), "trace main.recurse\n");
  spec.requested_hits_per_second = 50;
  auto s = factory->StartTrace(spec, ev.Callback());
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_FALSE(Get(**t, "/recurse?n=1000").empty());
  ASSERT_TRUE(WaitForRateLimited(ev)) << "no rate-limited notice within 10 s";
  size_t before = ev.Hits().size();
  EXPECT_GE(before, 50u);
  EXPECT_FALSE(Get(**t, "/recurse?n=10").empty());  // after the disarm: no more hits
  absl::SleepFor(absl::Milliseconds(300));
  EXPECT_EQ(ev.Hits().size(), before);
  (*s)->RequestEnd(v1::END_REASON_CLIENT_STOP);
  ASSERT_TRUE((*s)->Wait(absl::Seconds(10)).ok());
  // The bucket holds one second's worth (50), refilled at 50/s while the 1,001 calls run.
  EXPECT_GE(ev.Hits().size(), 50u);
  EXPECT_LE(ev.Hits().size(), 55u);
  ExpectReleased(**t, ProbeAddress((*t)->pid(), "main.recurse"));
}

// A tracepoint's rate is one budget over its probes: main.clampQty's entry and its call inlined in
// serveOrder share one bucket in the BPF program. 10 requests make 20 calls; at 5 hits/s (a
// bucket of 5) the tracepoint reports about 5 before it is disarmed, not 5 per probe.
TEST(EbpfEngineTest, ATracepointsInlinedCallsShareItsRate) {
  KDBG_REQUIRE_REAL(HaveBpf(), "root and a kernel with BPF uprobes");
  auto t = GoTarget::Start("values");
  ASSERT_TRUE(t.ok()) << t.status();
  Events ev;
  auto factory = NewEbpfSessionFactory({});
  agent::TraceSpec spec = Spec((*t)->pid(), "trace c main.clampQty\n");
  spec.requested_hits_per_second = 5;
  auto s = factory->StartTrace(spec, ev.Callback());
  ASSERT_TRUE(s.ok()) << s.status();
  const absl::Time start = kdbg::MonotonicNow();
  for (int i = 0; i < 10; ++i) Get(**t, "/order?id=1&qty=1&items=a");
  const absl::Duration took = kdbg::MonotonicNow() - start;
  ASSERT_TRUE(WaitForRateLimited(ev)) << "no rate-limited notice within 10 s";
  (*s)->RequestEnd(v1::END_REASON_CLIENT_STOP);
  ASSERT_TRUE((*s)->Wait(absl::Seconds(10)).ok());
  // 5 in the bucket, plus what 5/s refilled while the requests ran.
  const size_t most = 5 + static_cast<size_t>(absl::ToDoubleSeconds(took) * 5) + 1;
  EXPECT_GE(ev.Hits().size(), 5u);
  EXPECT_LE(ev.Hits().size(), most) << "the requests took " << took;
  bool inlined = false;
  for (const v1::HitEvent& h : ev.Hits()) inlined |= h.function() == "main.serveOrder";
  EXPECT_TRUE(inlined) << "no hit at the inlined call";
  ExpectReleased(**t, 0);
}

TEST(EbpfEngineTest, MaxHitsAndDurationEndTheSession) {
  KDBG_REQUIRE_REAL(HaveBpf(), "root and a kernel with BPF uprobes");
  auto t = GoTarget::Start("values");
  ASSERT_TRUE(t.ok()) << t.status();
  auto factory = NewEbpfSessionFactory({});
  {
    Events ev;
    agent::TraceSpec spec = Spec((*t)->pid(), "trace main.recurse\non 1 print n\n");
    spec.max_hits = 7;
    auto s = factory->StartTrace(spec, ev.Callback());
    ASSERT_TRUE(s.ok()) << s.status();
    EXPECT_FALSE(Get(**t, "/recurse?n=100").empty());
    auto ended = (*s)->Wait(absl::Seconds(10));
    ASSERT_TRUE(ended.ok());
    EXPECT_EQ(ended->reason(), v1::END_REASON_MAX_HITS);
    EXPECT_EQ(ended->hits(), 7);
    EXPECT_EQ(ev.Hits().size(), 7u);
  }
  {
    Events ev;
    agent::TraceSpec spec = Spec((*t)->pid(), "trace main.recurse\n");
    spec.duration = absl::Milliseconds(300);
    absl::Time t0 = kdbg::MonotonicNow();
    auto s = factory->StartTrace(spec, ev.Callback());
    ASSERT_TRUE(s.ok()) << s.status();
    auto ended = (*s)->Wait(absl::Seconds(10));
    ASSERT_TRUE(ended.ok());
    EXPECT_EQ(ended->reason(), v1::END_REASON_DURATION);
    EXPECT_LT(kdbg::MonotonicNow() - t0, absl::Seconds(3));
  }
  ExpectReleased(**t, ProbeAddress((*t)->pid(), "main.recurse"));
}

// Hits go to the stream in batches at most once per batch interval (each message costs the
// agent, controller and CLI far more than a hit in it), and a hit after a quiet interval at once.
TEST(EbpfEngineTest, HitsGoOutAtMostOncePerBatchIntervalAndALoneHitAtOnce) {
  KDBG_REQUIRE_REAL(HaveBpf(), "root and a kernel with BPF uprobes");
  auto t = GoTarget::Start("values");
  ASSERT_TRUE(t.ok()) << t.status();
  EbpfOptions o;
  o.batch_interval_ms = 200;
  const absl::Duration interval = absl::Milliseconds(o.batch_interval_ms);
  Events ev;
  auto factory = NewEbpfSessionFactory(o);
  auto s = factory->StartTrace(Spec((*t)->pid(), "trace h main.handleOrder\non h print tag\n"),
                               ev.Callback());
  ASSERT_TRUE(s.ok()) << s.status();
  // Quiet for longer than the interval: the next hit goes at once (the poll's 2 ms, not 200).
  absl::SleepFor(interval + absl::Milliseconds(100));
  EXPECT_FALSE(Get(**t, "/order?tag=lone").empty());
  const absl::Time answered = kdbg::MonotonicNow();
  ASSERT_TRUE(ev.WaitHits(1));
  EXPECT_LT(ev.CallArrivals()[0] - answered, interval / 2)
      << "a hit after a quiet interval waited for the batch interval";
  // Requests back to back: their hits arrive in a few hand-offs, each `interval` after the last.
  absl::SleepFor(interval + absl::Milliseconds(100));
  constexpr int kRequests = 40;
  const absl::Time first_sent = kdbg::MonotonicNow();
  for (int i = 0; i < kRequests; ++i)
    EXPECT_FALSE(Get(**t, absl::StrCat("/order?tag=b", i)).empty());
  const absl::Duration sending = kdbg::MonotonicNow() - first_sent;
  ASSERT_TRUE(ev.WaitHits(1 + kRequests));
  (*s)->RequestEnd(v1::END_REASON_CLIENT_STOP);
  ASSERT_TRUE((*s)->Wait(absl::Seconds(10)).ok());
  auto hits = ev.Hits();
  ASSERT_EQ(hits.size(), 1u + kRequests);
  for (int i = 0; i < kRequests; ++i) {
    ASSERT_EQ(hits[1 + i].vars(0).value(), absl::StrCat("\"b", i, "\"")) << "in order, none lost";
  }
  // A hand-off delivers its hits within microseconds; the next one comes `interval` later.
  std::vector<absl::Time> at = ev.CallArrivals();
  int handoffs = 1;
  for (size_t i = 2; i < at.size(); ++i) {
    if (at[i] - at[i - 1] > absl::Milliseconds(1)) {
      ++handoffs;
      EXPECT_GT(at[i] - at[i - 1], interval - absl::Milliseconds(20)) << "hit " << i;
    }
  }
  absl::Duration rest;
  EXPECT_LE(handoffs, absl::IDivDuration(sending, interval, &rest) + 2)
      << kRequests << " requests sent in " << sending;
  ExpectReleased(**t, ProbeAddress((*t)->pid(), "main.handleOrder"));
}

// A busy tracepoint's hits go out less often (hand_off_pacer.h): at thousands of hits a second
// the interval grows from batch_interval_ms to max_batch_interval_ms, and no hit is lost.
TEST(EbpfEngineTest, ABusyTracepointsHitsGoOutAtTheLongerInterval) {
  KDBG_REQUIRE_REAL(HaveBpf(), "root and a kernel with BPF uprobes");
  auto t = GoTarget::Start("values");
  ASSERT_TRUE(t.ok()) << t.status();
  EbpfOptions o;
  o.batch_interval_ms = 10;
  o.max_batch_interval_ms = 60;
  Events ev;
  auto factory = NewEbpfSessionFactory(o);
  agent::TraceSpec spec = Spec((*t)->pid(), "trace main.recurse\n");
  spec.requested_hits_per_second = 100000;  // not disarmed at these rates
  auto s = factory->StartTrace(spec, ev.Callback());
  ASSERT_TRUE(s.ok()) << s.status();
  // A request every 4 ms for a second (fewer when one takes longer), each 51 calls: ~12,000
  // hits a second, and as many returns.
  constexpr int kCalls = 51;
  const absl::Time start = kdbg::MonotonicNow();
  int requests = 0;
  while (kdbg::MonotonicNow() - start < absl::Seconds(1)) {
    ASSERT_FALSE(Get(**t, absl::StrCat("/recurse?n=", kCalls - 1)).empty());
    ++requests;
    absl::SleepFor(start + requests * absl::Milliseconds(4) - kdbg::MonotonicNow());
  }
  const absl::Duration sending = kdbg::MonotonicNow() - start;
  ASSERT_TRUE(ev.WaitHits(kCalls * requests)) << requests << " requests";
  (*s)->RequestEnd(v1::END_REASON_CLIENT_STOP);
  auto ended = (*s)->Wait(absl::Seconds(10));
  ASSERT_TRUE(ended.ok()) << ended.status();
  EXPECT_EQ(ended->hits(), kCalls * requests) << "every call counted once";
  EXPECT_EQ(ev.Hits().size(), static_cast<size_t>(kCalls * requests)) << "and delivered";
  const double rate = kCalls * requests / absl::ToDoubleSeconds(sending);
  ASSERT_GT(rate, 3000) << "too few hits a second to test the pacing: " << requests
                        << " requests in " << sending;
  // Hand-offs (gaps over 1 ms between arrivals) once the rate is known (after 0.5 s): the
  // interval is 10 ms * rate / 1,000, at most 60 ms, far above the 10 ms of a fixed interval.
  std::vector<absl::Time> at = ev.CallArrivals();
  std::vector<absl::Duration> gaps;
  for (size_t i = 1; i < at.size(); ++i) {
    if (at[i] - at[i - 1] > absl::Milliseconds(1) && at[i - 1] - at[0] > absl::Milliseconds(500) &&
        at[i] - at[0] < sending) {
      gaps.push_back(at[i] - at[i - 1]);
    }
  }
  ASSERT_GE(gaps.size(), 3u) << "hand-offs in the busy half second";
  std::sort(gaps.begin(), gaps.end());
  const absl::Duration median = gaps[gaps.size() / 2];
  const absl::Duration expected =
      std::min(absl::Milliseconds(60), absl::Milliseconds(10) * (rate / 1000));
  EXPECT_GT(median, expected * 0.6) << rate << " hits/s, " << gaps.size() << " hand-offs";
  EXPECT_LT(median, absl::Milliseconds(60) + absl::Milliseconds(30))
      << "held longer than the longest interval";
  ExpectReleased(**t, ProbeAddress((*t)->pid(), "main.recurse"));
}

TEST(EbpfEngineTest, TargetExitEndsTheSession) {
  KDBG_REQUIRE_REAL(HaveBpf(), "root and a kernel with BPF uprobes");
  auto t = GoTarget::Start("values");
  ASSERT_TRUE(t.ok()) << t.status();
  Events ev;
  auto factory = NewEbpfSessionFactory({});
  auto s = factory->StartTrace(Spec((*t)->pid(), kOrderScript), ev.Callback());
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_TRUE((*t)->process().Signal(SIGTERM).ok());
  auto ended = (*s)->Wait(absl::Seconds(10));
  ASSERT_TRUE(ended.ok());
  EXPECT_EQ(ended->reason(), v1::END_REASON_TARGET_EXITED);
  EXPECT_FALSE(ended->target_alive());
}

// `text` `n` times over.
std::string Repeat(absl::string_view text, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) absl::StrAppend(&out, text);
  return out;
}

TEST(EbpfEngineTest, ErrorsNameTheLineAndLeaveNothing) {
  KDBG_REQUIRE_REAL(HaveBpf(), "root and a kernel with BPF uprobes");
  auto t = GoTarget::Start("values");
  ASSERT_TRUE(t.ok()) << t.status();
  auto factory = NewEbpfSessionFactory({});
  struct Case {
    std::string script;
    absl::StatusCode code;
    std::string message;
    bool mistake = false;  // IsScriptMistake: refused by the engine choice, not run on Delve
  } cases[] = {
      {"trace nope\n", absl::StatusCode::kNotFound, "t.dlv:1: location \"nope\" not found"},
      {"trace h main.handleOrder\non h print o.Nope\n", absl::StatusCode::kInvalidArgument,
       "t.dlv:2: o.Nope: o is main.Order, which has no field Nope (did you mean Note?)", true},
      {"trace h main.handleOrder\non h print nope\n", absl::StatusCode::kInvalidArgument,
       "t.dlv:2: nope: main.handleOrder has no parameter nope, nor has package main a variable "
       "nope"},
      {"trace h main.handleOrder\ncond h qty > 1 && urgent\n", absl::StatusCode::kUnimplemented,
       "t.dlv:2: condition `qty > 1 && urgent`"},
      // A pointer printed whole: Delve prints the function in it by name (its map, r.Header, is
      // read).
      {"trace s main.serveOrder\non s print r\n", absl::StatusCode::kUnimplemented,
       "t.dlv:2: r: r.GetBody is func() (io.ReadCloser, error); the eBPF engine prints whole "
       "values of strings, numbers, booleans, pointers, interfaces, structs, slices and maps of "
       "them, as Delve does: print the fields needed, or use --engine delve"},
      {absl::StrCat("trace v main.visit\n", Repeat("on v print n\n", 8)),
       absl::StatusCode::kUnimplemented,
       "t.dlv:9: n: n.At.Y: the value printed whole takes more slots than are left "
       "for it (a hit carries 256, 96 for its prints)"},
      // A slot is kept for each print after it: n's 13 do not fit before six more.
      {absl::StrCat("trace v main.visit\n", Repeat("on v print n\n", 7),
                    Repeat("on v print n.Seen\n", 6)),
       absl::StatusCode::kUnimplemented, "t.dlv:8: n: n.Mode: the value printed whole takes more"},
      // A line in a body reads parameters, locals and package variables
      // (ALineInAFunctionsBodyIsTracedWhereDelveBreaks, PackageVariablesAreWhatDelvePrints): a
      // local declared further down is none of them here.
      {"trace s main.go:166\non s print n\n", absl::StatusCode::kInvalidArgument,
       "t.dlv:2: n: n is not a parameter of main.serveOrder or a local in scope at line 166, nor a "
       "variable of package main (the eBPF engine reads parameters, locals and package "
       "variables)"},
      // half's one line, only ever inlined (in serveOrder): Delve breaks in the caller's code.
      {"trace h main.go:132\n", absl::StatusCode::kFailedPrecondition,
       "t.dlv:1: location main.go:132 is not traced by eBPF (part of its code is inlined in "
       "main.serveOrder, where Delve stops;"},
      {"trace h main.go:9999\n", absl::StatusCode::kFailedPrecondition,
       "t.dlv:1: location main.go:9999 is not traced by eBPF ("},
      {"trace h *0x401000\n", absl::StatusCode::kUnimplemented,
       "t.dlv:1: location *0x401000 is not traced by eBPF"},
  };
  for (const Case& c : cases) {
    Events ev;
    auto s = factory->StartTrace(Spec((*t)->pid(), c.script), ev.Callback());
    ASSERT_FALSE(s.ok()) << c.script;
    EXPECT_EQ(s.status().code(), c.code) << s.status();
    EXPECT_THAT(std::string(s.status().message()), HasSubstr(c.message));
    EXPECT_EQ(IsScriptMistake(s.status()), c.mistake) << s.status();
    EXPECT_TRUE(ev.All().empty());
  }
  ExpectReleased(**t, ProbeAddress((*t)->pid(), "main.handleOrder"));
  // The body of a range-over-func loop is a closure of its own, whose variables Delve finds in
  // the enclosing function's frame: Delve runs it.
  auto modern = GoTarget::Start("modern-values");
  ASSERT_TRUE(modern.ok()) << modern.status();
  auto range = factory->StartTrace(Spec((*modern)->pid(), "trace e main.go:146\n"), nullptr);
  ASSERT_FALSE(range.ok());
  EXPECT_EQ(range.status().code(), absl::StatusCode::kFailedPrecondition) << range.status();
  EXPECT_THAT(std::string(range.status().message()),
              HasSubstr("t.dlv:1: location main.go:146 is not traced by eBPF (it is in "
                        "main.countEvens-range1, the body of a range-over-func loop"));
  ExpectReleased(**modern, 0);
  // A stripped binary has no DWARF: a precise error, nothing attached.
  auto stripped = GoTarget::Start("hello-world-stripped");
  ASSERT_TRUE(stripped.ok()) << stripped.status();
  auto s = factory->StartTrace(Spec((*stripped)->pid(), "trace main.handleSlash\n"), nullptr);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(s.status().message()), HasSubstr("no DWARF"));
}

}  // namespace
}  // namespace kdbg::ebpf

namespace kdbg::ebpf {
namespace {

// A Delve that reads Go 1.26's DWARF 5 (the bundled one; $KDBG_DLV overrides).
std::string ModernDelve() {
  if (const char* e = std::getenv("KDBG_DLV"); e != nullptr && *e != '\0') return e;
  for (const char* p : {"/var/cache/kdbg/delve/v1.27.2/dlv", "/var/cache/kdbg/delve/v1.26.2/dlv"}) {
    if (::access(p, X_OK) == 0) return p;
  }
  return "";
}

// What a test that runs both engines needs.
constexpr char kBothEngines[] =
    "root, a kernel with BPF uprobes and a Delve built for Go 1.26 (scripts/deps; or $KDBG_DLV)";

std::string WithoutAddresses(const std::string& v) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) {
    if (v.compare(i, 2, "0x") == 0) {
      out += "0xADDR";
      i += 2;
      while (i < v.size() && std::isxdigit(static_cast<unsigned char>(v[i]))) ++i;
      --i;
    } else {
      out.push_back(v[i]);
    }
  }
  return out;
}

// Runs `script` on the eBPF engine against `t` while `paths` are requested in order, waits for
// `calls` calls and `returns` return events, and ends the session; every event it sent.
std::unique_ptr<Events> RunScript(const GoTarget& t, const std::string& script,
                                  const std::vector<std::string>& paths, size_t calls,
                                  size_t returns = 0) {
  auto ev = std::make_unique<Events>();
  auto factory = NewEbpfSessionFactory({});
  auto s = factory->StartTrace(Spec(t.pid(), script), ev->Callback());
  EXPECT_TRUE(s.ok()) << s.status();
  if (!s.ok()) return ev;
  for (const std::string& p : paths) Get(t, p);
  EXPECT_TRUE(ev->WaitHits(calls));
  if (returns > 0) {
    EXPECT_TRUE(ev->WaitHits(returns, absl::Seconds(10), /*returns=*/true));
  }
  (*s)->RequestEnd(v1::END_REASON_CLIENT_STOP);
  EXPECT_TRUE((*s)->Wait(absl::Seconds(10)).ok());
  return ev;
}

// A position-independent executable: the itab and type addresses the plan compares and names
// move with the load address, which the agent reads from the kernel (AT_ENTRY in /proc/PID/auxv
// minus the ELF entry). The same script on the PIE build prints what it prints on the fixed one.
TEST(EbpfEngineTest, InterfacesOfAPositionIndependentExecutableAreRead) {
  KDBG_REQUIRE_REAL(HaveBpf(), "root and a kernel with BPF uprobes");
  auto t = GoTarget::Start("values-pie");
  ASSERT_TRUE(t.ok()) << t.status();
  auto bin = gobinary::GoBinary::Open(absl::StrCat("/proc/", (*t)->pid(), "/exe"));
  ASSERT_TRUE(bin.ok()) << bin.status();
  ASSERT_TRUE((*bin)->IsPie());
  auto ev = RunScript(
      **t, "trace h main.handleOrder\non h print d.Text\non h print d\ntrace v main.validate\n",
      {"/order?id=7&qty=2&label=lbl", "/order?id=8&qty=3&extra=order"}, 4);
  std::vector<std::string> seen;
  for (const v1::HitEvent& h : ev->Hits()) {
    for (const auto& v : h.vars()) {
      seen.push_back(absl::StrCat(v.name(), "=", WithoutAddresses(v.value())));
    }
    for (const auto& a : h.args()) {
      if (a.name() == "w" || a.name() == "extra") {
        seen.push_back(absl::StrCat(a.name(), "=", WithoutAddresses(a.value())));
      }
    }
  }
  const std::string order =
      "d=main.Describer(*main.Order {ID: 8, Customer: *main.Customer {...}, Items: []string len: "
      "1, cap: 1, [\"\"], Paid: false, Note: \"\", Weight: 24})";
  EXPECT_THAT(seen, ::testing::IsSupersetOf(std::vector<std::string>{
                        "d.Text=\"lbl\"", "d=main.Describer(main.label {Text: \"lbl\", N: 7})",
                        "w=io.Writer((*net/http.response)(0xADDR))", "extra=interface {} nil",
                        order, "extra=interface {}((*main.Order)(0xADDR))"}));
  ExpectReleased(**t, 0);
}

// A session of `engine` ("ebpf" or "delve": the bundled Delve) on a target, with its factory and
// Delve's directory, both kept until the session is gone.
struct EngineSession {
  std::unique_ptr<agent::DebugSessionFactory> factory;
  std::unique_ptr<agent::DebugSession> session;
  std::string work;
  ~EngineSession() {
    session.reset();
    if (!work.empty()) std::filesystem::remove_all(work);
  }
  // Ends the session (expected to end within 20 s); the ended event's message.
  std::string End(const std::string& engine) {
    if (session == nullptr) return "";
    session->RequestEnd(v1::END_REASON_CLIENT_STOP);
    auto ended = session->Wait(absl::Seconds(20));
    EXPECT_TRUE(ended.ok()) << engine;
    return ended.ok() ? ended->message() : "";
  }
};

// Spec() with the resolver's facts about `t` (start time, binary), as the session manager hands
// them to the engines, at 100 hits/s.
agent::TraceSpec SpecWithFacts(const GoTarget& t, const std::string& script) {
  agent::TraceSpec spec = Spec(t.pid(), script);
  absl::Status resolved = kdbg::testing::ResolveInto(t.pid(), &spec);
  EXPECT_TRUE(resolved.ok()) << resolved;
  spec.max_hits_per_second = 100;
  return spec;
}

// Starts `script` on `engine` against `t`, its events into `ev`; nullptr session (and a test
// failure) when it did not start.
std::unique_ptr<EngineSession> StartEngine(const GoTarget& t, const std::string& engine,
                                           const std::string& script, Events& ev) {
  auto out = std::make_unique<EngineSession>();
  if (engine == "ebpf") {
    out->factory = NewEbpfSessionFactory({});
  } else {
    out->work = kdbg::testing::MakeTempDir("ebpf-vs-delve");
    delve::DelveOptions d;
    d.dlv_path = ModernDelve();
    d.work_dir = out->work;
    out->factory = delve::NewDelveSessionFactory(std::move(d));
  }
  auto s = out->factory->StartTrace(SpecWithFacts(t, script), ev.Callback());
  EXPECT_TRUE(s.ok()) << engine << ": " << s.status();
  if (s.ok()) out->session = std::move(*s);
  return out;
}

// The hits of `script` on `engine` while `requests` are made in order, once `hits` calls were
// reported; the session ended.
std::vector<v1::HitEvent> EngineHits(const GoTarget& t, const std::string& engine,
                                     const std::string& script,
                                     const std::vector<std::string>& requests, size_t hits) {
  Events ev;
  std::unique_ptr<EngineSession> s = StartEngine(t, engine, script, ev);
  if (s->session != nullptr) {
    for (const std::string& r : requests) Get(t, r);
    EXPECT_TRUE(ev.WaitHits(hits)) << engine;
    s->End(engine);
  }
  return ev.Hits();  // calls (returns apart)
}

// One line per hit: "tracepoint function file:line name=value..." (vars, then args).
std::string HitLine(const v1::HitEvent& h) {
  std::vector<std::string> parts = {
      h.tracepoint(), h.function(),
      absl::StrCat(std::filesystem::path(h.file()).filename().string(), ":", h.line())};
  for (const auto& v : h.vars()) parts.push_back(absl::StrCat(v.name(), "=", v.value()));
  for (const auto& a : h.args()) parts.push_back(absl::StrCat(a.name(), "=", a.value()));
  return absl::StrJoin(parts, " ");
}

// Expects `want` hits from each engine, the same in order: tracepoint, function, file, line, the
// names and values of vars and args. Each run allocates its own objects: pointers agree in form,
// not address; a value Delve cannot read is unreadable on eBPF too, each in its own words; what
// the eBPF engine elides, Delve prints after the same beginning. Returns the eBPF hits' lines.
std::vector<std::string> ExpectSameHits(const std::vector<v1::HitEvent>& ebpf,
                                        const std::vector<v1::HitEvent>& dlv, size_t want) {
  std::vector<std::string> ebpf_lines, dlv_lines;
  for (const auto& h : ebpf) ebpf_lines.push_back(HitLine(h));
  for (const auto& h : dlv) dlv_lines.push_back(HitLine(h));
  EXPECT_EQ(ebpf.size(), want) << absl::StrJoin(ebpf_lines, "\n");
  EXPECT_EQ(dlv.size(), want) << absl::StrJoin(dlv_lines, "\n");
  for (size_t i = 0; i < ebpf.size() && i < dlv.size(); ++i) {
    SCOPED_TRACE(absl::StrCat("hit ", i, "\n ebpf:  ", ebpf_lines[i], "\n delve: ", dlv_lines[i]));
    EXPECT_EQ(ebpf[i].tracepoint(), dlv[i].tracepoint());
    EXPECT_EQ(ebpf[i].function(), dlv[i].function());
    EXPECT_EQ(ebpf[i].file(), dlv[i].file());
    EXPECT_EQ(ebpf[i].line(), dlv[i].line());
    auto same = [](const auto& e, const auto& d) {
      ASSERT_EQ(e.size(), d.size());
      for (int k = 0; k < e.size(); ++k) {
        // Delve names a field reached through an interface "data.Text"; kdbg keeps the
        // expression.
        if (!absl::StrContains(d[k].name(), "data.")) {
          EXPECT_EQ(e[k].name(), d[k].name());
        }
        const std::string ev = WithoutAddresses(e[k].value());
        const std::string dv = WithoutAddresses(d[k].value());
        if (absl::StartsWith(dv, "(unreadable") || absl::StartsWith(dv, "(invalid")) {
          EXPECT_THAT(ev, HasSubstr("unreadable")) << dv;  // each in its own words
        } else if (absl::StrContains(ev,
                                     " values are not read by the eBPF engine; --engine delve "
                                     "reads them)")) {
          // A type the eBPF engine lists without reading (a map argument): it says so, by type.
          EXPECT_THAT(ev, HasSubstr(absl::StrCat("(unreadable ", e[k].type()))) << dv;
        } else if (absl::EndsWith(ev, " {...})") || absl::EndsWith(ev, ", [...]")) {
          // A dynamic type not read, and the elements of a slice not read (a slice of maps, or
          // one whose elements take more slots than a hit has left) are elided on eBPF
          // ("main.Describer(main.label {...})", "[]map[int]int len: 3, cap: 3, [...]"): Delve's
          // text begins the same.
          EXPECT_THAT(dv, StartsWith(ev.substr(0, ev.size() - 5))) << e[k].name();
        } else {
          EXPECT_EQ(ev, dv) << e[k].name();
        }
      }
    };
    same(ebpf[i].vars(), dlv[i].vars());
    same(ebpf[i].args(), dlv[i].args());
  }
  return ebpf_lines;
}

// Runs `script` on each engine over `paths` (want hits each) and ExpectSameHits: the eBPF lines.
std::vector<std::string> BothEnginesHits(const GoTarget& t, const std::string& script,
                                         const std::vector<std::string>& paths, size_t want) {
  SCOPED_TRACE(script);
  std::vector<v1::HitEvent> ebpf = EngineHits(t, "ebpf", script, paths, want);
  std::vector<v1::HitEvent> dlv = EngineHits(t, "delve", script, paths, want);
  return ExpectSameHits(ebpf, dlv, want);
}

// The same script on the same binary through both engines, with the same requests: every printed
// value (and every scalar argument) must be what Delve prints.
TEST(EbpfEngineTest, ValuesEqualWhatDelvePrints) {
  KDBG_REQUIRE_REAL(HaveBpf() && !ModernDelve().empty(), kBothEngines);
  auto t = GoTarget::Start("values");
  ASSERT_TRUE(t.ok()) << t.status();
  const std::string script =
      "trace h main.handleOrder\n"
      "on h print tag\n"
      "on h print qty\n"
      "on h print urgent\n"
      "on h print o.ID\n"
      "on h print o.Customer.Name\n"
      "on h print o.Customer.Tier\n"
      "on h print len(o.Items)\n"
      "on h print len(tag)\n"
      "on h print o.Paid\n"
      "on h print o.Weight\n"
      "on h print d.Text\n"
      "on h print o.Customer.Email\n"
      "on h print d.Order.Note\n"
      "on h print d.Order.Customer.Name\n"
      "on h print d.Memo\n";
  const std::vector<std::string> requests = {
      "/order?id=7&name=ann&items=a,b,c&paid=1&tag=first&qty=2&label=lbl&urgent=1",
      "/order?id=-12&items=x&qty=-3&label=" + std::string(80, 'q') + "&tag=" + std::string(70, 'z'),
      "/order?id=99999999999&name=%22quoted%22%0Aline&items=&tag=%E2%82%AC&label=x",
      "/order?id=5&name=bo&items=z&qty=1&tag=t",  // no label: d holds the *main.Order
      // d holds a main.ref, a struct of one pointer: in the interface's data word itself.
      "/order?id=6&name=cy&items=y&qty=4&tag=r&note=by-ref&ref=1",
      // d holds a *main.memo by an itab the runtime made (no itab symbol for it).
      "/order?id=8&name=di&items=w&qty=5&tag=m&memo=m1",
  };
  std::vector<v1::HitEvent> ebpf_hits = EngineHits(**t, "ebpf", script, requests, requests.size());
  std::vector<v1::HitEvent> delve_hits =
      EngineHits(**t, "delve", script, requests, requests.size());
  ExpectSameHits(ebpf_hits, delve_hits, requests.size());
  std::vector<std::string> saw_args, saw_values;
  for (const v1::HitEvent& e : ebpf_hits) {
    std::vector<std::string> names;
    for (const v1::Variable& a : e.args()) {
      names.push_back(a.name());
      saw_values.push_back(a.value());
    }
    saw_args.push_back(absl::StrJoin(names, ", "));
  }
  // What this test is about, on this target: every parameter is read, interfaces included, both
  // of d's dynamic types seen.
  EXPECT_THAT(saw_args, Each(std::string("w, o, d, tag, qty, urgent")));
  EXPECT_THAT(saw_values, Contains(StartsWith("io.Writer((*net/http.response)(0x")));
  EXPECT_THAT(saw_values, Contains(StartsWith("main.Describer((*main.Order)(0x")));
  EXPECT_THAT(saw_values, Contains("main.Describer(main.label {Text: \"lbl\", N: 7})"));
  EXPECT_THAT(saw_values, Contains(StartsWith("main.Describer(main.ref {Order: (*main.Order)(0x")));
  EXPECT_THAT(saw_values, Contains(StartsWith("main.Describer((*main.memo)(0x")));
  // The fields behind the ref: what Delve prints too (above), checked here against the request.
  ASSERT_EQ(ebpf_hits.size(), requests.size());
  EXPECT_THAT(HitLine(ebpf_hits[4]), AllOf(HasSubstr(" d.Order.Note=\"by-ref\" "),
                                           HasSubstr(" d.Order.Customer.Name=\"cy\" ")));
  // A field behind the itab the runtime made: its type is told by the itab's type descriptor.
  EXPECT_THAT(HitLine(ebpf_hits[5]), HasSubstr(" d.Memo=\"m1\""));
  EXPECT_THAT(HitLine(ebpf_hits[0]),
              HasSubstr(" d.Memo=(unreadable dynamic type main.label is not one this expression "
                        "was compiled for)"));
  ExpectReleased(**t, ProbeAddress((*t)->pid(), "main.handleOrder"));
}

// Promoted fields: through an embedded pointer (*Order: e.ID, e.Customer.Name) and an embedded
// struct (meta: e.Source), as Delve reads them.
TEST(EbpfEngineTest, PromotedFieldsAreWhatDelvePrints) {
  KDBG_REQUIRE_REAL(HaveBpf() && !ModernDelve().empty(), kBothEngines);
  auto t = GoTarget::Start("values");
  ASSERT_TRUE(t.ok()) << t.status();
  const std::string script =
      "trace s main.ship\non s print e.ID\non s print e.Customer.Name\non s print e.Source\n"
      "on s print e.Seq\non s print e.Order.Note\n";
  const std::vector<std::string> requests = {"/order?id=41&name=eve&items=a&source=web&note=n1",
                                             "/order?id=-3&items=b"};
  std::vector<v1::HitEvent> ebpf = EngineHits(**t, "ebpf", script, requests, requests.size());
  std::vector<v1::HitEvent> dlv = EngineHits(**t, "delve", script, requests, requests.size());
  ExpectSameHits(ebpf, dlv, requests.size());
  ASSERT_EQ(ebpf.size(), requests.size());
  EXPECT_THAT(HitLine(ebpf[0]), HasSubstr(" e.ID=41 e.Customer.Name=\"eve\" e.Source=\"web\" "
                                          "e.Seq=42 e.Order.Note=\"n1\""));
  EXPECT_THAT(HitLine(ebpf[1]), HasSubstr(" e.ID=-3 e.Customer.Name=\"\" e.Source=\"\" e.Seq=-2 "
                                          "e.Order.Note=\"\""));
  ExpectReleased(**t, ProbeAddress((*t)->pid(), "main.ship"));
}

// Floats read from memory (fields behind a pointer), printed as Delve prints them: the shortest
// decimal that reads back the same, no exponent, Inf and NaN by name.
TEST(EbpfEngineTest, FloatFieldsAreWhatDelvePrints) {
  KDBG_REQUIRE_REAL(HaveBpf() && !ModernDelve().empty(), kBothEngines);
  auto t = GoTarget::Start("values");
  ASSERT_TRUE(t.ok()) << t.status();
  const std::string script = "trace s main.ship\non s print e.Mass\non s print e.Scale\n";
  const std::vector<std::string> ws = {"0.1", "-0", "1e21", "NaN", "-Inf", "2.5", "123456.789"};
  std::vector<std::string> requests;
  requests.reserve(ws.size());
  for (const std::string& w : ws) requests.push_back(absl::StrCat("/order?id=1&items=a&w=", w));
  std::vector<v1::HitEvent> ebpf = EngineHits(**t, "ebpf", script, requests, requests.size());
  std::vector<v1::HitEvent> dlv = EngineHits(**t, "delve", script, requests, requests.size());
  ExpectSameHits(ebpf, dlv, requests.size());
  std::vector<std::string> values;
  for (const v1::HitEvent& h : ebpf) {
    ASSERT_EQ(h.vars_size(), 2);
    values.push_back(absl::StrCat(h.vars(0).value(), " ", h.vars(1).value()));
  }
  EXPECT_THAT(values, ::testing::ElementsAre(
                          "0.1 0.1", "0 0", "1000000000000000000000 1000000000000000000000",
                          "NaN NaN", "-Inf -Inf", "2.5 2.5", "123456.789 123456.79"));
  ExpectReleased(**t, ProbeAddress((*t)->pid(), "main.ship"));
}

// Constant indexes: an element of a slice behind a pointer, a byte of a string (Delve's uint8),
// and past the length "index out of bounds" on both engines.
TEST(EbpfEngineTest, IndexesAreWhatDelvePrints) {
  KDBG_REQUIRE_REAL(HaveBpf() && !ModernDelve().empty(), kBothEngines);
  auto t = GoTarget::Start("values");
  ASSERT_TRUE(t.ok()) << t.status();
  const std::string script =
      "trace h main.handleOrder\non h print o.Items[1]\non h print tag[0]\non h print "
      "o.Items[0]\n";
  const std::vector<std::string> requests = {"/order?id=1&items=a,b,c&tag=first",
                                             "/order?id=2&items=x"};
  std::vector<v1::HitEvent> ebpf = EngineHits(**t, "ebpf", script, requests, requests.size());
  std::vector<v1::HitEvent> dlv = EngineHits(**t, "delve", script, requests, requests.size());
  ExpectSameHits(ebpf, dlv, requests.size());
  ASSERT_EQ(ebpf.size(), requests.size());
  EXPECT_THAT(HitLine(ebpf[0]), HasSubstr(" o.Items[1]=\"b\" tag[0]=102 o.Items[0]=\"a\" "));
  EXPECT_THAT(HitLine(ebpf[1]),
              HasSubstr(" o.Items[1]=(unreadable index out of bounds) tag[0]=(unreadable index out "
                        "of bounds) o.Items[0]=\"x\" "));
  ExpectReleased(**t, ProbeAddress((*t)->pid(), "main.handleOrder"));
}

// len() of a map: nil, a small one, one of 20 entries (Go 1.24+: a directory of tables), as Delve
// reads it.
TEST(EbpfEngineTest, LenOfAMapIsWhatDelvePrints) {
  KDBG_REQUIRE_REAL(HaveBpf() && !ModernDelve().empty(), kBothEngines);
  auto t = GoTarget::Start("values");
  ASSERT_TRUE(t.ok()) << t.status();
  const std::string script = "trace t main.tally\non t print len(counts)\n";
  std::string twenty = "/order?id=3&items=c";
  for (int i = 0; i < 20; ++i) absl::StrAppend(&twenty, "&tag=t", i);
  const std::vector<std::string> requests = {"/order?id=1&items=a",
                                             "/order?id=2&items=b&tag=x&tag=y&tag=x", twenty};
  std::vector<v1::HitEvent> ebpf = EngineHits(**t, "ebpf", script, requests, requests.size());
  std::vector<v1::HitEvent> dlv = EngineHits(**t, "delve", script, requests, requests.size());
  ASSERT_EQ(ebpf.size(), 3u);
  ASSERT_EQ(dlv.size(), 3u);
  // Each request makes its own map: a table's entries are in the order of its hash seed, which
  // differs from map to map (the same map, MapsPrintTheirEntriesAsDelvePrintsThem, is in the
  // same order on both engines). Up to 8 entries, one group: in the order they were put in.
  ExpectSameHits({ebpf[0], ebpf[1]}, {dlv[0], dlv[1]}, 2);
  std::vector<std::string> lens;
  for (const v1::HitEvent& h : ebpf) {
    ASSERT_EQ(h.vars_size(), 1);
    lens.push_back(h.vars(0).value());
  }
  EXPECT_THAT(lens, ::testing::ElementsAre("0", "2", "20"));
  ASSERT_EQ(dlv[2].vars_size(), 1);
  EXPECT_EQ(dlv[2].vars(0).value(), "20");
  for (const v1::HitEvent* h : {&ebpf[2], &dlv[2]}) {
    ASSERT_EQ(h->args_size(), 1);
    const std::string& counts = h->args(0).value();
    EXPECT_THAT(counts, AllOf(StartsWith("map[string]int [\"t"), EndsWith(": 1, ...+4 more]")));
    EXPECT_EQ(std::count(counts.begin(), counts.end(), ':'), 16) << counts;
  }
  ExpectReleased(**t, ProbeAddress((*t)->pid(), "main.tally"));
}

// len() and cap() of a channel (nil, empty, 3 of 8 queued) and cap() of a slice, as Delve reads
// them; a condition on one runs in the BPF program too.
TEST(EbpfEngineTest, LenAndCapOfAChannelAreWhatDelvePrints) {
  KDBG_REQUIRE_REAL(HaveBpf() && !ModernDelve().empty(), kBothEngines);
  auto t = GoTarget::Start("values");
  ASSERT_TRUE(t.ok()) << t.status();
  const std::string script =
      "trace d main.depth\non d print len(ch)\non d print cap(ch)\non d print cap(spare)\n";
  const std::vector<std::string> requests = {"/order?id=1&items=a", "/order?id=2&items=b&q=0",
                                             "/order?id=3&items=c&q=3"};
  std::vector<v1::HitEvent> ebpf = EngineHits(**t, "ebpf", script, requests, requests.size());
  std::vector<v1::HitEvent> dlv = EngineHits(**t, "delve", script, requests, requests.size());
  ExpectSameHits(ebpf, dlv, requests.size());
  std::vector<std::string> got;
  for (const v1::HitEvent& h : ebpf) {
    ASSERT_EQ(h.vars_size(), 3);
    got.push_back(absl::StrCat(h.vars(0).value(), " ", h.vars(1).value(), " ", h.vars(2).value()));
  }
  EXPECT_THAT(got, ::testing::ElementsAre("0 0 5", "0 8 5", "3 8 5"));
  auto cond =
      RunScript(**t, "trace d main.depth\ncond d len(ch) > 2\non d print len(ch)\n", requests, 1);
  ASSERT_EQ(cond->Hits().size(), 1u);
  EXPECT_EQ(cond->Hits()[0].vars(0).value(), "3");
  ExpectReleased(**t, ProbeAddress((*t)->pid(), "main.depth"));
}

// The field chain the original trace script prints, through http.ResponseWriter to the
// *net/http.response's request: the request's own RemoteAddr, on both engines.
TEST(EbpfEngineTest, TheOriginalScriptsFieldThroughTheResponseWriterIsRead) {
  KDBG_REQUIRE_REAL(HaveBpf() && !ModernDelve().empty(), kBothEngines);
  auto t = GoTarget::Start("values");
  ASSERT_TRUE(t.ok()) << t.status();
  const std::string script =
      "trace s main.serveOrder\non s print w.req.RemoteAddr\non s print r.RemoteAddr\n";
  const std::vector<std::string> requests = {"/order?id=1&items=a", "/order?id=2&items=b"};
  std::vector<v1::HitEvent> ebpf = EngineHits(**t, "ebpf", script, requests, requests.size());
  std::vector<v1::HitEvent> dlv = EngineHits(**t, "delve", script, requests, requests.size());
  // Each engine's requests come from their own client ports: each hit's two values agree.
  ASSERT_EQ(ebpf.size(), requests.size());
  ASSERT_EQ(dlv.size(), requests.size());
  for (const std::vector<v1::HitEvent>* hits : {&ebpf, &dlv}) {
    for (const v1::HitEvent& h : *hits) {
      ASSERT_EQ(h.vars_size(), 2);
      EXPECT_THAT(h.vars(0).value(), ::testing::MatchesRegex(R"("127\.0\.0\.1:[0-9]+")"));
      EXPECT_EQ(h.vars(0).value(), h.vars(1).value()) << (hits == &ebpf ? "ebpf" : "delve");
    }
  }
  ExpectReleased(**t, ProbeAddress((*t)->pid(), "main.serveOrder"));
}

// A function's first line (`main.go:48`, the line of `func handleOrder(...)`) is its entry, as on
// Delve, which breaks there past the stack check and reports the hits at that line: the eBPF
// engine runs such a script (what `examples/trace.dlv`'s `main.go:10` is on hello-world) with
// Delve's hits. (A line of a function's body stays Delve's: ErrorsNameTheLineAndLeaveNothing.)
TEST(EbpfEngineTest, AFunctionsFirstLineIsItsEntryAsOnDelve) {
  KDBG_REQUIRE_REAL(HaveBpf() && !ModernDelve().empty(), kBothEngines);
  auto t = GoTarget::Start("values");
  ASSERT_TRUE(t.ok()) << t.status();
  const std::string script =
      "trace h main.go:48\non h print tag\non h print o.Customer.Name\non h print qty\n";
  const std::vector<std::string> requests = {"/order?id=1&name=ann&items=a&tag=x&qty=2",
                                             "/order?id=2&name=bo&items=b,c&tag=yz&qty=3"};
  std::vector<v1::HitEvent> ebpf = EngineHits(**t, "ebpf", script, requests, requests.size());
  std::vector<v1::HitEvent> dlv = EngineHits(**t, "delve", script, requests, requests.size());
  std::vector<std::string> lines = ExpectSameHits(ebpf, dlv, requests.size());
  EXPECT_THAT(lines, ElementsAre(StartsWith("h main.handleOrder main.go:48 tag=\"x\" "
                                            "o.Customer.Name=\"ann\" qty=2 "),
                                 StartsWith("h main.handleOrder main.go:48 tag=\"yz\" "
                                            "o.Customer.Name=\"bo\" qty=3 ")));
  ExpectReleased(**t, 0);
}

// A line in a function's body is traced where Delve breaks on it (its first statement), with the
// same hits: parameters and locals in scope read from their DWARF locations at that PC (registers
// or the function's frame; <optimized out> where the location list ends), hits only when the line
// runs (51: urgent orders only), once per pass (64: every level of a recursion), no returns.
TEST(EbpfEngineTest, ALineInAFunctionsBodyIsTracedWhereDelveBreaks) {
  KDBG_REQUIRE_REAL(HaveBpf() && !ModernDelve().empty(), kBothEngines);
  auto t = GoTarget::Start("values");
  ASSERT_TRUE(t.ok()) << t.status();
  const std::vector<std::string> requests = {"/order?id=1&name=ann&items=a&tag=x&qty=2",
                                             "/order?id=2&name=bo&items=b,c&tag=yz&qty=3&urgent=1",
                                             "/order?id=3&name=cy&items=d&tag=w&qty=4"};
  auto both = [&](const std::string& script, const std::vector<std::string>& paths, size_t want) {
    return BothEnginesHits(**t, script, paths, want);
  };
  // Past the call on line 49 the parameters are read from the frame (spill slots), d is dead.
  EXPECT_THAT(both("trace h main.go:50\non h print o.Customer.Name\n", requests, 3),
              ElementsAre(StartsWith("h main.handleOrder main.go:50 o.Customer.Name=\"ann\" w="),
                          StartsWith("h main.handleOrder main.go:50 o.Customer.Name=\"bo\" w="),
                          StartsWith("h main.handleOrder main.go:50 o.Customer.Name=\"cy\" w=")));
  EXPECT_THAT(both("trace h main.go:51\n", requests, 1),
              ElementsAre(AllOf(StartsWith("h main.handleOrder main.go:51 w="),
                                HasSubstr(" d=<optimized out> tag=\"yz\" qty=3 urgent=true"))));
  // serveOrder's locals where it calls handleOrder (166): found as Delve finds them, in
  // registers or the frame; `name`'s pointer has no location there (unreadable on both). And in
  // an if statement's block (183: its own n, s, ok; s's length has no location).
  EXPECT_THAT(
      both("trace s main.go:166\non s print qty\non s print id\non s print name\n"
           "on s print c.Name\non s print len(q)\n",
           requests, 3),
      ElementsAre(StartsWith("s main.serveOrder main.go:166 qty=2 id=1 name=(unreadable bytes 0..8 "
                             "of the value have no location here) c.Name=\"ann\" len(q)=5 w="),
                  StartsWith("s main.serveOrder main.go:166 qty=3 id=2 name=(unreadable bytes 0..8 "
                             "of the value have no location here) c.Name=\"bo\" len(q)=6 w="),
                  StartsWith("s main.serveOrder main.go:166 qty=4 id=3 name=(unreadable bytes 0..8 "
                             "of the value have no location here) c.Name=\"cy\" len(q)=5 w=")));
  // A condition on a local runs in the BPF program there too.
  EXPECT_THAT(both("trace s main.go:166\non s print id\ncond s qty > 2\n", requests, 2),
              ElementsAre(StartsWith("s main.serveOrder main.go:166 id=2 w="),
                          StartsWith("s main.serveOrder main.go:166 id=3 w=")));
  EXPECT_THAT(both("trace s main.go:183\non s print n\non s print ok\n", requests, 3),
              ElementsAre(StartsWith("s main.serveOrder main.go:183 n=4 ok=true w="),
                          StartsWith("s main.serveOrder main.go:183 n=6 ok=true w="),
                          StartsWith("s main.serveOrder main.go:183 n=8 ok=true w=")));
  // Scopes (serveScopes): `total` moved to the heap ("&total" in the DWARF: read through its
  // pointer); an inner `label` shadows the outer one from the line after its declaration.
  const std::vector<std::string> scopes = {"/scopes?label=abc"};
  EXPECT_THAT(both("trace s main.go:331\non s print label\non s print total\n", scopes, 1),
              ElementsAre(StartsWith("s main.serveScopes main.go:331 label=\"abc\" total=3 ")));
  EXPECT_THAT(both("trace s main.go:333\non s print label\non s print total\n", scopes, 1),
              ElementsAre(StartsWith("s main.serveScopes main.go:333 label=\"ABC\" total=6 ")));
  EXPECT_THAT(both("trace s main.go:335\non s print label\non s print total\n", scopes, 1),
              ElementsAre(StartsWith("s main.serveScopes main.go:335 label=\"abc\" total=6 ")));
  // A local `r` shadows the parameter r in a block: the print is the local, the args the
  // parameter (dead there: <optimized out> on both).
  EXPECT_THAT(both("trace s main.go:338\non s print r\n", scopes, 1),
              ElementsAre(StartsWith("s main.serveScopes main.go:338 r=\"abc!\" w=net/http."
                                     "ResponseWriter(")));
  EXPECT_THAT(both("trace s main.go:338\n", scopes, 1),
              ElementsAre(EndsWith(" r=<optimized out>")));
  // Each level of a recursion passes line 64 once.
  EXPECT_THAT(both("trace r main.go:64\n", {"/recurse?n=4"}, 4),
              Each(StartsWith("r main.recurse main.go:64 n=")));
  // No returns at a line, as on Delve, though handleOrder and recurse have results (their
  // function tracepoints report them): each returned before its request was answered, and the
  // session's end delivers what it holds.
  for (const auto& [script, path] : std::vector<std::pair<std::string, std::string>>{
           {"trace h main.go:50\n", requests[0]}, {"trace r main.go:64\n", "/recurse?n=2"}}) {
    Events ev;
    std::unique_ptr<EngineSession> s = StartEngine(**t, "ebpf", script, ev);
    ASSERT_NE(s->session, nullptr) << script;
    Get(**t, path);
    ASSERT_TRUE(ev.WaitHits(1)) << script;
    s->End("ebpf");
    EXPECT_THAT(ev.Returns(), ::testing::IsEmpty()) << script;
  }
  ExpectReleased(**t, 0);
}

// A hit's stack, one line per frame: "function file:line 0xpc".
std::vector<std::string> StackLines(const v1::HitEvent& h) {
  std::vector<std::string> out;
  for (const v1::StackFrame& f : h.stack()) {
    out.push_back(absl::StrCat(f.function(), " ",
                               std::filesystem::path(f.file()).filename().string(), ":", f.line(),
                               " 0x", absl::Hex(f.pc())));
  }
  return out;
}

// `on .. stack N` on eBPF: the BPF program walks Go's frame pointers, the agent names each return
// address as Delve's stack trace does (inlined calls as frames of their own, a caller at its call
// instruction); both engines' stacks, frame by frame, with their PCs. Returns the eBPF stacks.
std::vector<std::vector<std::string>> SameStacks(const GoTarget& t, const std::string& script,
                                                 const std::vector<std::string>& requests,
                                                 size_t hits) {
  SCOPED_TRACE(script);
  std::vector<v1::HitEvent> ebpf = EngineHits(t, "ebpf", script, requests, hits);
  std::vector<v1::HitEvent> dlv = EngineHits(t, "delve", script, requests, hits);
  ExpectSameHits(ebpf, dlv, hits);
  std::vector<std::vector<std::string>> out;
  for (size_t i = 0; i < ebpf.size() && i < dlv.size(); ++i) {
    out.push_back(StackLines(ebpf[i]));
    EXPECT_EQ(out.back(), StackLines(dlv[i])) << "hit " << i;
  }
  return out;
}

TEST(EbpfEngineTest, StacksAreWhatDelveReports) {
  KDBG_REQUIRE_REAL(HaveBpf() && !ModernDelve().empty(), kBothEngines);
  auto t = GoTarget::Start("values");
  ASSERT_TRUE(t.ok()) << t.status();
  const std::string order = "/order?id=7&qty=1&note=nn&items=a";
  // At a function's entry (the probe on its stack check, before it pushes RBP): the whole
  // goroutine, shorter than the depth asked for, down to runtime.goexit.
  auto whole = SameStacks(**t, "trace h main.handleOrder\non h stack 20\n", {order}, 1);
  ASSERT_EQ(whole.size(), 1u);
  EXPECT_THAT(whole[0], AllOf(SizeIs(::testing::Lt(21u)), Contains(StartsWith("main.serveOrder ")),
                              Contains(StartsWith("net/http.(*conn).serve ")),
                              ElementsAre(StartsWith("main.handleOrder main.go:48 "), _, _, _, _, _,
                                          _, StartsWith("runtime.goexit "))));
  // At a line in a body (RBP pushed: the frame's own), N + 1 frames.
  EXPECT_THAT(SameStacks(**t, "trace s main.go:166\non s stack 2\n", {order}, 1),
              ElementsAre(ElementsAre(StartsWith("main.serveOrder main.go:166 "),
                                      StartsWith("net/http.HandlerFunc.ServeHTTP "),
                                      StartsWith("net/http.(*ServeMux).ServeHTTP "))));
  // Each level of a recursion.
  EXPECT_THAT(
      SameStacks(**t, "trace r main.recurse\non r stack 2\n", {"/recurse?n=2"}, 3),
      ElementsAre(ElementsAre(StartsWith("main.recurse "), StartsWith("main.serveRecurse "), _),
                  ElementsAre(StartsWith("main.recurse "), StartsWith("main.recurse "),
                              StartsWith("main.serveRecurse ")),
                  ElementsAre(StartsWith("main.recurse "), StartsWith("main.recurse "),
                              StartsWith("main.recurse "))));
  // clampQty inlined in serveOrder (two frames at one PC), and its out-of-line body called
  // through a function value: a leaf without a frame, probed at its first instruction.
  EXPECT_THAT(SameStacks(**t, "trace c main.clampQty\non c stack 1\n", {order}, 2),
              UnorderedElementsAre(ElementsAre(StartsWith("main.clampQty main.go:123 "),
                                               StartsWith("main.serveOrder main.go:")),
                                   ElementsAre(StartsWith("main.clampQty main.go:"),
                                               StartsWith("main.serveOrder main.go:"))));
  // A caller's inlined calls: stamp is called by wrapStamp, inlined in serveNested; with one
  // frame asked for past stamp's, the caller's whole group comes (as on Delve).
  EXPECT_THAT(SameStacks(**t, "trace t main.stamp\non t stack 1\n", {"/nested?v=a"}, 1),
              ElementsAre(ElementsAre(StartsWith("main.stamp "), StartsWith("main.wrapStamp "),
                                      StartsWith("main.serveNested "))));
  // A leaf that has no frame at all.
  EXPECT_THAT(SameStacks(**t, "trace k main.keep\non k stack 1\n", {"/scopes?label=a"}, 1),
              ElementsAre(ElementsAre(StartsWith("main.keep "),
                                      StartsWith("main.serveScopes main.go:329 "))));
  ExpectReleased(**t, 0);
  // A position-independent executable: run-time PCs, named at their link-time addresses.
  auto pie = GoTarget::Start("values-pie");
  ASSERT_TRUE(pie.ok()) << pie.status();
  EXPECT_THAT(SameStacks(**pie, "trace t main.stamp\non t stack 2\n", {"/nested?v=a"}, 1),
              ElementsAre(ElementsAre(StartsWith("main.stamp "), StartsWith("main.wrapStamp "),
                                      StartsWith("main.serveNested "))));
  ExpectReleased(**pie, 0);
}

// Package variables, as Delve's evaluator finds a name no parameter or local has: in the package
// of the code at the probe (`sink` in main.handleOrder), or by its full name (`main.sink`), at a
// function's entry, at a line inside one and at an inlined call; strings, integers, and in
// conditions a pointer and an interface.
TEST(EbpfEngineTest, PackageVariablesAreWhatDelvePrints) {
  KDBG_REQUIRE_REAL(HaveBpf() && !ModernDelve().empty(), kBothEngines);
  auto t = GoTarget::Start("values");
  ASSERT_TRUE(t.ok()) << t.status();
  Get(**t, "/scopes?label=ab");  // sets kept
  const std::vector<std::string> requests = {"/order?id=1&name=ann&items=a&tag=x&qty=2",
                                             "/order?id=2&name=bo&items=b,c&tag=yz&qty=3"};
  auto both = [&](const std::string& script, size_t want) {
    return BothEnginesHits(**t, script, requests, want);
  };
  // (Not sink: each request adds to it, so the two engines' runs would see different values. The
  // pointer and the interface, kept and errNegative, are compared in conditions.)
  EXPECT_THAT(both("trace h main.handleOrder\non h print release\non h print main.generation\n", 2),
              Each(StartsWith("h main.handleOrder main.go:48 release=\"v1.2.3\" "
                              "main.generation=7 ")));
  EXPECT_THAT(both("trace s main.go:166\non s print release\non s print qty\n", 2),
              Each(StartsWith("s main.serveOrder main.go:166 release=\"v1.2.3\" qty=")));
  EXPECT_THAT(both("trace c main.clampQty\non c print generation\n", 4),
              Each(HasSubstr(" generation=7 ")));
  // In conditions, read in the BPF program.
  EXPECT_THAT(both("trace h main.handleOrder\ncond h generation == 7\n", 2),
              Each(StartsWith("h main.handleOrder ")));
  EXPECT_THAT(both("trace h main.handleOrder\ncond h release != \"v1.2.3\"\n", 0), IsEmpty());
  EXPECT_THAT(both("trace h main.handleOrder\ncond h kept == nil\n", 0), IsEmpty());
  EXPECT_THAT(both("trace h main.handleOrder\ncond h errNegative != nil\n", 2),
              Each(StartsWith("h main.handleOrder ")));
  // Another package's, by its short name as Delve maps it (net/http).
  EXPECT_THAT(both("trace h main.handleOrder\ncond h http.DefaultServeMux != nil\n", 2),
              Each(StartsWith("h main.handleOrder ")));
  EXPECT_THAT(both("trace h main.handleOrder\ncond h http.DefaultServeMux == nil\n", 0), IsEmpty());
  ExpectReleased(**t, 0);
  // A position-independent executable: the variable's link-time address plus the load bias.
  auto pie = GoTarget::Start("values-pie");
  ASSERT_TRUE(pie.ok()) << pie.status();
  const std::string script =
      "trace h main.handleOrder\ncond h generation == 7\non h print release\n";
  std::vector<v1::HitEvent> ebpf = EngineHits(**pie, "ebpf", script, {requests[0]}, 1);
  std::vector<v1::HitEvent> dlv = EngineHits(**pie, "delve", script, {requests[0]}, 1);
  EXPECT_THAT(ExpectSameHits(ebpf, dlv, 1),
              ElementsAre(StartsWith("h main.handleOrder main.go:48 release=\"v1.2.3\" ")));
  ExpectReleased(**pie, 0);
}

// `print X` of a pointer or a struct: the value as Delve loads it for a print (proc.LoadFullValue:
// pointers followed, the fields of a struct and of the structs in it, MaxVariableRecurse 1; a
// pointer to a pointer past that by its address), each field read by the BPF program and the
// whole formatted as the Delve engine formats Delve's.
TEST(EbpfEngineTest, PointersAndStructsPrintAsDelvePrintsThem) {
  KDBG_REQUIRE_REAL(HaveBpf() && !ModernDelve().empty(), kBothEngines);
  auto t = GoTarget::Start("values");
  ASSERT_TRUE(t.ok()) << t.status();
  auto both = [&](const std::string& script, const std::vector<std::string>& paths, size_t want) {
    return BothEnginesHits(**t, script, paths, want);
  };
  const std::vector<std::string> graphs = {"/graph?name=root&k=2&owner=ann",
                                           "/graph?name=r&k=1&deep=1&owner=bo"};
  // The node, its fields, and the fields of the node and the point in it (level 1); past depth 3
  // in the format, a type and {...} (strings in full); a nil **Customer's target.
  EXPECT_THAT(
      both("trace v main.visit\non v print n\n", graphs, 2),
      ElementsAre(StartsWith("v main.visit main.go:410 n=*main.node {Name: \"root\", Next: "
                             "*main.node {Name: \"leaf\", Next: *main.node {...}, At: main.point "
                             "{...}, Count: *int {...}, Owner: **main.Customer {...}, Ratio: "
                             "float64 {...}, Seen: bool {...}, Mode: main.mode {...}}, At: "
                             "main.point {X: 2, Y: -1}, Count: *2, Owner: nil, "
                             "Ratio: 1.25, Seen: true, Mode: modeRead|modeWrite (3)} "),
                  StartsWith("v main.visit main.go:410 n=*main.node {Name: \"r\", ")));
  // (A mode is named by its constants, as Delve names it; the argument m=17 is no sum of them.)
  // A struct in registers, a pointer to an int, a nil pointer (Delve's target at address 0, never
  // loaded: "nil" on both engines, printed or an argument); the arguments as Delve lists them
  // (pointers not followed, the first 3 fields of a struct).
  EXPECT_THAT(
      both("trace v main.visit\non v print p\non v print count\non v print none\non v print lim\n",
           graphs, 2),
      ElementsAre(
          AllOf(
              HasSubstr(" p=main.point {X: 2, Y: -1} count=*2 none=nil "
                        "lim=main.limits {Min: -1, Max: 200, Step: 2, Name: \"root\", On: true} "),
              HasSubstr(") p=main.point {X: 2, Y: -1} count=(*int)(0x"),
              EndsWith(" none=nil lim=main.limits {Min: -1, Max: 200, Step: "
                       "2, ...+2 more} m=17")),
          HasSubstr(" p=main.point {X: 1, Y: -1} count=*1 none=nil ")));
  // A pointer to a struct one level down: its fields one deeper (level 1: the "deeper" node's
  // fields are loaded, its point's are not), a nil pointer in it; a struct field.
  EXPECT_THAT(both("trace v main.visit\non v print n.Next\non v print n.At\n", graphs, 2),
              ElementsAre(StartsWith("v main.visit main.go:410 n.Next=*main.node {Name: \"leaf\", "
                                     "Next: nil, At: main.point {X: 3, Y: 4}, Count: *2, "
                                     "Owner: **main.Customer {...}, Ratio: 0.5, Seen: false, Mode: "
                                     "modeExec (4)} "
                                     "n.At=main.point {X: 2, Y: -1} "),
                          StartsWith("v main.visit main.go:410 n.Next=*main.node {Name: \"leaf\", "
                                     "Next: *main.node {Name: \"deeper\", Next: *main.node {...}, "
                                     "At: main.point {...}, ")));
  EXPECT_THAT(
      both("trace h main.handleOrder\non h print o.Customer\n",
           {"/order?id=1&name=ann&items=a&tag=x&qty=2", "/order?id=2&items=b&qty=1"}, 2),
      ElementsAre(HasSubstr(" o.Customer=*main.Customer {Name: \"ann\", Tier: 3, Email: "
                            "\"ann@example.com\"} "),
                  HasSubstr(" o.Customer=*main.Customer {Name: \"\", Tier: 0, Email: \"\"} ")));
  // Byte slices (their first 64 elements) and arrays of up to 64 bytes, printed and as arguments
  // (16 elements); an interface holding a nil pointer keeps its dynamic type.
  auto zs = [](int n) { return absl::StrJoin(std::vector<std::string>(n, "122"), ", "); };
  EXPECT_THAT(
      both("trace d main.digest\non d print data\non d print sum\non d print flags\non d "
           "print pair\non d print modes\non d print d\n",
           {"/graph?name=x&k=2&blob=hello",
            absl::StrCat("/graph?name=y&k=1&blob=", std::string(70, 'z'))},
           2),
      ElementsAre(StartsWith("d main.digest main.go:421 data=[]uint8 len: 5, cap: 5, [104, "
                             "101, 108, 108, 111] sum=[4]uint8 len: 4, cap: 4, [5, 1, 2, "
                             "255] flags=[]bool len: 2, cap: 3, [true, false] pair=[2]int16 "
                             "len: 2, cap: 2, [-7, 2] modes=[3]main.mode len: 3, cap: 3, "
                             "[modeRead (1), modeRead|modeExec (5), 8] "
                             "d=main.Describer((*main.Order)(nil)) data="),
                  AllOf(HasSubstr(absl::StrCat(":421 data=[]uint8 len: 70, cap: 70, [", zs(64),
                                               ", ...+6 more] sum=")),
                        HasSubstr(absl::StrCat("nil)) data=[]uint8 len: 70, cap: 70, [", zs(16),
                                               ", ...+54 more] sum=")))));
  // At a line in a body, a local; a package variable, nil and then set.
  const std::vector<std::string> order = {"/order?id=1&name=ann&items=a&qty=2"};
  EXPECT_THAT(both("trace s main.go:154\non s print c\n", order, 1),
              ElementsAre(StartsWith("s main.serveOrder main.go:154 c=*main.Customer {Name: "
                                     "\"ann\", Tier: 3, Email: \"ann@example.com\"} ")));
  // A nil *int (Delve's int at address 0, with no value).
  EXPECT_THAT(both("trace h main.handleOrder\non h print kept\n", order, 1),
              ElementsAre(StartsWith("h main.handleOrder main.go:48 kept=nil ")));
  Get(**t, "/scopes?label=ab");
  EXPECT_THAT(both("trace h main.handleOrder\non h print kept\n", order, 1),
              ElementsAre(StartsWith("h main.handleOrder main.go:48 kept=*4 ")));
  // An embedded struct's, with floats.
  EXPECT_THAT(
      both("trace s main.ship\non s print e.meta\n", {"/order?id=1&w=1.5&source=web"}, 1),
      ElementsAre(HasSubstr(" e.meta=main.meta {Source: \"web\", Mass: 1.5, Scale: 1.5} ")));
  ExpectReleased(**t, 0);
}

// Slices' elements as Delve loads them (loadArrayValues: the first MaxArrayValues, 64 printed and
// 16 as arguments, at the next recursion level): numbers of each size by their bytes; strings,
// pointers, structs and interfaces one by one, by their element type's subprogram (KDBG_OP_EACH).
// Both engines on the same requests, the text written out.
TEST(EbpfEngineTest, SlicesPrintTheirElementsAsDelvePrintsThem) {
  KDBG_REQUIRE_REAL(HaveBpf() && !ModernDelve().empty(), kBothEngines);
  auto t = GoTarget::Start("values");
  ASSERT_TRUE(t.ok()) << t.status();
  std::vector<std::string> names(70);
  for (int i = 0; i < 70; ++i) names[static_cast<size_t>(i)] = absl::StrCat("n", i);
  auto quoted = [&](size_t n) {
    std::vector<std::string> out;
    for (size_t i = 0; i < n; ++i) out.push_back(absl::StrCat("\"", names[i], "\""));
    return absl::StrJoin(out, ", ");
  };
  const std::vector<std::string> paths = {"/basket?names=a,b&n=3", "/basket?n=0",
                                          "/basket?names=" + absl::StrJoin(names, ",") + "&n=70"};
  // Printed (64 elements) and as arguments (16); 70 numbers of 8 bytes: the first 64 printed take
  // eight slots of bytes.
  const std::vector<std::string> b = BothEnginesHits(
      **t, "trace b main.basket\non b print names\non b print qtys\non b print weights\n", paths,
      3);
  ASSERT_EQ(b.size(), 3u);
  const std::string three =
      "names=[]string len: 2, cap: 2, [\"a\", \"b\"] qtys=[]int len: 3, cap: 5, [-5, 5, 15] "
      "weights=[]float64 len: 3, cap: 3, [0.25, 1.25, 2.25]";
  EXPECT_EQ(b[0], absl::StrCat("b main.basket main.go:589 ", three, " ", three));
  const std::string none =
      "names=[]string len: 0, cap: 0, [] qtys=[]int len: 0, cap: 2, [] weights=[]float64 len: "
      "0, cap: 0, []";
  EXPECT_EQ(b[1], absl::StrCat("b main.basket main.go:589 ", none, " ", none));
  std::vector<std::string> qtys(64);
  for (int i = 0; i < 64; ++i) qtys[static_cast<size_t>(i)] = absl::StrCat(i * 10 - 5);
  EXPECT_THAT(b[2],
              AllOf(HasSubstr(absl::StrCat(":589 names=[]string len: 70, cap: 70, [", quoted(64),
                                           ", ...+6 more] qtys=[]int len: 70, "
                                           "cap: 72, [",
                                           absl::StrJoin(qtys, ", "), ", ...+6 more] ")),
                    HasSubstr(absl::StrCat("] names=[]string len: 70, cap: 70, [", quoted(16),
                                           ", ...+54 more] qtys=[]int len: 70, cap: 72, [",
                                           absl::StrJoin(qtys.begin(), qtys.begin() + 16, ", "),
                                           ", ...+54 more] "))));
  // Pointers (as arguments: by address), structs, numbers of two bytes; interfaces.
  const std::vector<std::string> c = BothEnginesHits(**t, "trace c main.crate\n", {paths[0]}, 1);
  ASSERT_EQ(c.size(), 1u);
  EXPECT_THAT(c[0], AllOf(StartsWith("c main.crate main.go:594 small=[]int16 len: 3, cap: 3, [0, "
                                     "-1, -2] owners=[]*main.Customer len: 3, cap: 4, "
                                     "[(*main.Customer)(0x"),
                          HasSubstr("), nil, (*main.Customer)(0x"),
                          EndsWith(")] lines=[]main.line len: 3, cap: 4, [main.line {SKU: "
                                   "\"sku-0\", Qty: 0}, main.line {SKU: \"sku-1\", Qty: 1}, "
                                   "main.line {SKU: \"sku-2\", Qty: 2}]")));
  const std::vector<std::string> f = BothEnginesHits(**t, "trace f main.firstErr\n", {paths[0]}, 1);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_THAT(f[0], AllOf(StartsWith("f main.firstErr main.go:599 errs=[]error len: 3, cap: 4, "
                                     "[error nil, error((*errors.errorString)(0x"),
                          EndsWith(")), error(main.fault {Code: 2, Op: \"op\"})]")));
  // With a condition (its slot below the elements') and a stack (its frames after them): the
  // two requests with names, each stack as Delve's.
  const auto stacks = SameStacks(
      **t, "trace b main.basket\ncond b len(names) > 1\non b print names\non b stack 3\n", paths,
      2);
  ASSERT_EQ(stacks.size(), 2u);
  for (const auto& stack : stacks) {
    EXPECT_THAT(stack,
                ElementsAre(StartsWith("main.basket "), StartsWith("main.serveBasket "), _, _));
  }
  // A slice of structs two levels down: Delve loads no field of them (each prints its field count),
  // and this engine reads nothing of them but the slice's header.
  EXPECT_THAT(BothEnginesHits(**t, "trace p main.pack\non p print m\n", {"/pack?n=2"}, 1),
              ElementsAre(StartsWith("p main.pack main.go:672 m=*main.manifest {ID: 2, Lines: "
                                     "[]main.line len: 2, cap: 2, [main.line {...+2 more}, "
                                     "main.line {...+2 more}]} m=(*main.manifest)(0x")));
  for (const char* f : {"main.basket", "main.crate", "main.firstErr", "main.pack"}) {
    ExpectReleased(**t, ProbeAddress((*t)->pid(), f));
  }
}

// More elements than the record has slots left for: those that fit, then "...+N more" (Delve
// prints 64). 40 customers printed (a pointer and three fields each): 30 fit past the probe's own
// 8 slots, and the arguments' elements, read after the print's, find no slot left.
// Maps (Go 1.24+ swiss tables), entry by entry in Delve's order (the directory's tables, their
// groups, the full slots of each), printed (64 entries) and as arguments (16): of strings to
// numbers, numbers to structs, strings to interfaces and to slices; nil and empty maps. A small
// map's entries are in insertion order; the larger maps are the target's own, the same at every
// call, so both engines see them in the same order.
TEST(EbpfEngineTest, MapsPrintTheirEntriesAsDelvePrintsThem) {
  KDBG_REQUIRE_REAL(HaveBpf() && !ModernDelve().empty(), kBothEngines);
  auto t = GoTarget::Start("values");
  ASSERT_TRUE(t.ok()) << t.status();
  const std::vector<std::string> s =
      BothEnginesHits(**t,
                      "trace s main.stock\non s print counts\non s print byID\non s print errs\n"
                      "on s print tags\n",
                      {"/stock?n=3", "/stock?n=0", "/stock?n=-1"}, 3);
  ASSERT_EQ(s.size(), 3u);
  const std::string three =
      "counts=map[string]int [\"k0\": 0, \"k1\": 3, \"k2\": 6] byID=map[int]main.line [0: "
      "main.line {SKU: \"s0\", Qty: 0}, 7: main.line {SKU: \"s1\", Qty: -1}, 14: main.line {SKU: "
      "\"s2\", Qty: -2}] errs=map[string]error [\"e0\": error nil, \"e1\": ";
  EXPECT_THAT(s[0], AllOf(HasSubstr(absl::StrCat(":692 ", three,
                                                 "error(*errors.errorString {s: "
                                                 "\"negative quantity\"}), \"e2\": error(main."
                                                 "fault {Code: 2, Op: \"op\"})] tags=map[string]"
                                                 "[]string [\"t0\": []string len: 1, cap: 1, "
                                                 "[\"y\"], \"t1\": []string len: 2, cap: 2, "
                                                 "[\"x\", \"y\"], \"t2\": []string len: 3, "
                                                 "cap: 3, [\"x\", \"x\", \"y\"]] ")),
                          HasSubstr(absl::StrCat("] ", three, "error((*errors.errorString)(0x"))));
  const std::string empty =
      "counts=map[string]int [] byID=map[int]main.line [] errs=map[string]error [] "
      "tags=map[string][]string []";
  EXPECT_THAT(s[1], EndsWith(absl::StrCat(empty, " ", empty)));
  const std::string nil =
      "counts=map[string]int nil byID=map[int]main.line nil errs=map[string]error nil "
      "tags=map[string][]string nil";
  EXPECT_THAT(s[2], EndsWith(absl::StrCat(nil, " ", nil)));
  // 20 entries (a table of 4 groups) printed and as an argument; 1000 (several tables) as an
  // argument: its first 16.
  std::vector<std::string> b = BothEnginesHits(**t, "trace b main.browse\non b print m\n",
                                               {"/browse?which=small", "/browse?which=mid"}, 2);
  ASSERT_EQ(b.size(), 2u);
  EXPECT_THAT(b[0], HasSubstr(" m=map[string]int [\"k0\": 0, \"k1\": 3, \"k2\": 6, \"k3\": 9, "
                              "\"k4\": 12] m=map[string]int [\"k0\": 0, "));
  EXPECT_THAT(b[1], HasSubstr(" m=map[string]int [\""));
  EXPECT_EQ(std::count(b[1].begin(), b[1].end(), ':'), 1 + 20 + 16)
      << "20 entries printed, 16 as the argument, ...+4 more: " << b[1];
  EXPECT_THAT(b[1], HasSubstr(", ...+4 more]"));
  // A map of maps (a package variable): each inner map's entries too.
  EXPECT_THAT(
      BothEnginesHits(**t, "trace b main.browse\non b print nested\n", {"/browse?which=small"}, 1),
      ElementsAre(HasSubstr(" nested=map[string]map[string]int [\"c\": map[string]int "
                            "nil, \"a\": map[string]int [\"x\": 1], \"b\": "
                            "map[string]int [\"y\": 2, \"z\": 3]] m=")));
  b = BothEnginesHits(**t, "trace b main.browse\n", {"/browse?which=big"}, 1);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_THAT(b[0], AllOf(HasSubstr(" m=map[string]int [\"k"), EndsWith(", ...+984 more]")));
  for (const char* f : {"main.stock", "main.browse"}) {
    ExpectReleased(**t, ProbeAddress((*t)->pid(), f));
  }
}

// A map of 1,000 entries printed: its first 64, then "...+936 more", the same entries as Delve's in
// the same order (Delve's MaxArrayValues; two slots each, past the probe's own: the record's 256
// slots hold them all). Printed again in the same hit, it finds fewer slots left than its entries
// take: those that fit, then how many more, where Delve shows 64 again.
TEST(EbpfEngineTest, AMapOfAThousandEntriesPrintsItsFirst64AsDelveDoes) {
  KDBG_REQUIRE_REAL(HaveBpf() && !ModernDelve().empty(), kBothEngines);
  auto t = GoTarget::Start("values");
  ASSERT_TRUE(t.ok()) << t.status();
  const std::string script = "trace b main.browse\non b print m\non b print m\n";
  const std::vector<std::string> big = {"/browse?which=big"};
  std::vector<v1::HitEvent> ebpf = EngineHits(**t, "ebpf", script, big, 1);
  std::vector<v1::HitEvent> dlv = EngineHits(**t, "delve", script, big, 1);
  ASSERT_EQ(ebpf.size(), 1u);
  ASSERT_EQ(dlv.size(), 1u);
  ASSERT_EQ(ebpf[0].vars_size(), 2);
  ASSERT_EQ(dlv[0].vars_size(), 2);
  const std::string d = dlv[0].vars(0).value();
  EXPECT_THAT(d, EndsWith(", ...+936 more]"));
  EXPECT_EQ(std::count(d.begin(), d.end(), ':'), 64) << d;
  EXPECT_EQ(dlv[0].vars(1).value(), d);
  EXPECT_EQ(ebpf[0].vars(0).value(), d);
  const std::string e = ebpf[0].vars(1).value();
  const size_t cut = e.rfind(", ...+");
  ASSERT_NE(cut, std::string::npos) << e;
  const std::string entries = e.substr(0, cut);
  const int shown = static_cast<int>(std::count(entries.begin(), entries.end(), ':'));
  EXPECT_GT(shown, 40) << e;
  EXPECT_LT(shown, 64) << e;
  EXPECT_THAT(e, EndsWith(absl::StrCat(", ...+", 1000 - shown, " more]")));
  EXPECT_EQ(entries, d.substr(0, cut)) << "the same entries, in the same order";
  ExpectReleased(**t, ProbeAddress((*t)->pid(), "main.browse"));
}

// A slice whose elements take more slots than the record has left shows those that fit, then
// "...+N more" (Delve shows 64); one whose elements fit shows them all, as Delve does.
TEST(EbpfEngineTest, SlicesLongerThanTheRecordShowTheElementsThatFit) {
  KDBG_REQUIRE_REAL(HaveBpf() && !ModernDelve().empty(), kBothEngines);
  auto t = GoTarget::Start("values");
  ASSERT_TRUE(t.ok()) << t.status();
  // crate(small, owners, lines) with 40 of each: every printed customer (a pointer and three
  // fields, four slots) fits, and then each argument's first 16 (Delve's for an argument).
  auto ev = RunScript(**t, "trace c main.crate\non c print owners\n", {"/basket?n=40"}, 1);
  auto hits = ev->Hits();
  ASSERT_EQ(hits.size(), 1u);
  ASSERT_EQ(hits[0].vars_size(), 1);
  auto customers = [](int n) {
    std::vector<std::string> shown(n, "nil");
    for (size_t i = 0; i < shown.size(); i += 2) {
      shown[i] = absl::StrCat("*main.Customer {Name: \"c", i, "\", Tier: ", i, ", Email: \"e\"}");
    }
    return shown;
  };
  EXPECT_EQ(hits[0].vars(0).value(), absl::StrCat("[]*main.Customer len: 40, cap: 64, [",
                                                  absl::StrJoin(customers(40), ", "), "]"));
  ASSERT_EQ(hits[0].args_size(), 3);
  std::vector<std::string> small, lines;
  for (int i = 0; i < 16; ++i) {
    small.push_back(absl::StrCat(-i));
    lines.push_back(absl::StrCat("main.line {SKU: \"sku-", i, "\", Qty: ", i, "}"));
  }
  EXPECT_EQ(hits[0].args(0).value(), absl::StrCat("[]int16 len: 40, cap: 40, [",
                                                  absl::StrJoin(small, ", "), ", ...+24 more]"));
  // (Their capacities as append grew them; pointers not followed in an argument.)
  EXPECT_THAT(hits[0].args(1).value(),
              ::testing::MatchesRegex(
                  R"(\[\]\*main\.Customer len: 40, cap: [0-9]+, \[)"
                  R"((\(\*main\.Customer\)\(0x[0-9a-f]+\), nil, ){8}\.\.\.\+24 more\])"));
  EXPECT_THAT(hits[0].args(2).value(),
              AllOf(StartsWith("[]main.line len: 40, cap: "),
                    EndsWith(absl::StrCat(", [", absl::StrJoin(lines, ", "), ", ...+24 more]"))));
  // The same as Delve's, print and arguments (the customers' addresses aside: another request).
  std::vector<v1::HitEvent> dlv =
      EngineHits(**t, "delve", "trace c main.crate\non c print owners\n", {"/basket?n=40"}, 1);
  ASSERT_EQ(dlv.size(), 1u);
  ASSERT_EQ(dlv[0].vars_size(), 1);
  ASSERT_EQ(dlv[0].args_size(), 3);
  EXPECT_EQ(dlv[0].vars(0).value(), hits[0].vars(0).value());
  for (int k = 0; k < 3; ++k) {
    EXPECT_EQ(WithoutAddresses(dlv[0].args(k).value()), WithoutAddresses(hits[0].args(k).value()))
        << dlv[0].args(k).name();
  }
  // 100 customers: 64 would take every slot of the record; those that fit, then how many more.
  auto hundred = RunScript(**t, "trace c main.crate\non c print owners\n", {"/basket?n=100"}, 1);
  hits = hundred->Hits();
  ASSERT_EQ(hits.size(), 1u);
  ASSERT_EQ(hits[0].vars_size(), 1);
  const std::string e = hits[0].vars(0).value();
  const size_t cut = e.rfind(", ...+");
  ASSERT_NE(cut, std::string::npos) << e;
  const std::string shown = e.substr(0, cut);
  int n = 0;
  for (size_t at = shown.find("*main.Customer {"); at != std::string::npos;
       at = shown.find("*main.Customer {", at + 1)) {
    ++n;
  }
  n = 2 * n - (shown.ends_with("nil") ? 0 : 1);  // every other one is nil
  EXPECT_GT(n, 40) << e;
  EXPECT_LT(n, 64) << e;
  EXPECT_THAT(e, AllOf(StartsWith("[]*main.Customer len: 100, cap: "),
                       EndsWith(absl::StrCat(", [", absl::StrJoin(customers(n), ", "), ", ...+",
                                             100 - n, " more]"))));
  // Elements read later in the hit (the arguments', after the prints') find none left: the probe's
  // 8 slots and 62 customers of 4 take all 256.
  ASSERT_EQ(hits[0].args_size(), 3);
  EXPECT_THAT(hits[0].args(1).value(),
              ::testing::MatchesRegex(
                  R"(\[\]\*main\.Customer len: 100, cap: [0-9]+, \[\.\.\.\+100 more\])"));
  ExpectReleased(**t, ProbeAddress((*t)->pid(), "main.crate"));
  // The slots a hit's elements took are reset before the next hit reads its own there: basket's
  // names at the hit after crate's customers (the same goroutine, most often the same CPU, so the
  // same scratch record) are its own, never a customer left behind.
  auto two = RunScript(
      **t, "trace b main.basket\non b print names\ntrace c main.crate\non c print owners\n",
      {"/basket?names=x,y,z&n=100", "/basket?names=q&n=2"}, 4);
  std::vector<std::string> values;
  for (const v1::HitEvent& h : two->Hits()) {
    ASSERT_EQ(h.vars_size(), 1);
    values.push_back(h.vars(0).value());
  }
  EXPECT_THAT(values,
              ElementsAre("[]string len: 3, cap: 3, [\"x\", \"y\", \"z\"]",
                          StartsWith("[]*main.Customer len: 100, cap: "),
                          "[]string len: 1, cap: 1, [\"q\"]",
                          "[]*main.Customer len: 2, cap: 4, [*main.Customer {Name: \"c0\", Tier: "
                          "0, Email: \"e\"}, nil]"));
  for (const char* f : {"main.basket", "main.crate"})
    ExpectReleased(**t, ProbeAddress((*t)->pid(), f));
}

// `print X` of a non-empty interface: its dynamic value as Delve loads it (loadInterface: at the
// interface's own level), read by the subprogram the agent compiled for the dynamic type
// (KDBG_OP_CALL, looked up by the type's descriptor): a pointer to a struct, a struct value (behind
// the data word), a named integer with constants, a typed nil pointer, nil; and an interface inside
// it (a wrapped error) by its own type's subprogram, one level down, printed to the format's depth.
// As arguments too, as Delve lists them (pointers not followed: by address; a struct's fields).
// The same requests through both engines, every value equal, the text written out.
TEST(EbpfEngineTest, InterfacesPrintTheirDynamicValuesAsDelvePrintsThem) {
  KDBG_REQUIRE_REAL(HaveBpf() && !ModernDelve().empty(), kBothEngines);
  auto t = GoTarget::Start("values");
  ASSERT_TRUE(t.ok()) << t.status();
  const std::string at = "r main.report main.go:485 ";
  const std::string label = "d=main.Describer(main.label {Text: \"\", N: 3}) ";
  EXPECT_THAT(
      BothEnginesHits(**t, "trace r main.report\non r print err\non r print d\n",
                      {"/fail?kind=plain&label=a", "/fail?kind=wrapped", "/fail?kind=fault",
                       "/fail?kind=input", "/fail?kind=nilptr", "/fail?kind=code", "/fail"},
                      7),
      ElementsAre(AllOf(StartsWith(at + "err=error(*errors.errorString {s: \"plain failure\"}) "
                                        "d=main.Describer(main.label {Text: \"a\", N: 3}) "),
                        HasSubstr(") err=error((*errors.errorString)(0x")),
                  StartsWith(at +
                             "err=error(*fmt.wrapError {msg: \"while loading: negative quantity\", "
                             "err: error(*errors.errorString {...})}) " +
                             label),
                  AllOf(StartsWith(at + "err=error(main.fault {Code: 7, Op: \"dial\"}) " + label),
                        EndsWith(" err=error(main.fault {Code: 7, Op: \"dial\"}) " +
                                 label.substr(0, label.size() - 1))),
                  StartsWith(at +
                             "err=error(*main.badInput {Field: \"qty\", Err: error(main.fault "
                             "{...})}) " +
                             label),
                  StartsWith(at + "err=error((*main.badInput)(nil)) " + label),
                  EndsWith(at + "err=error(codeRefused (2)) " + label +
                           "err=error(codeRefused (2)) " + label.substr(0, label.size() - 1)),
                  StartsWith(at + "err=error nil " + label)));
  // Two struct levels down, past MaxVariableRecurse, Delve does not load the dynamic value (its
  // data OnlyAddr): its type only, on both engines (a struct passed in registers).
  const std::string o =
      "i main.inspect main.go:530 o=main.outer {Name: \"o\", In: main.inner {Err: ";
  EXPECT_THAT(BothEnginesHits(**t, "trace i main.inspect\non i print o\n",
                              {"/fail?kind=plain", "/fail?kind=fault", "/fail"}, 3),
              ElementsAre(StartsWith(o + "error(*errors.errorString ...), N: 2}} "),
                          StartsWith(o + "error(main.fault ...), N: 2}} "),
                          StartsWith(o + "error nil, N: 2}} ")));
  ExpectReleased(**t, 0);
}

// `cond -hitcount` on eBPF, as Delve's checkHitCond: the tracepoint's count of hits whose
// condition held (its entry and its inlined calls together) against N, counted in the BPF program;
// the returns reported are those of the calls reported.
TEST(EbpfEngineTest, HitCountConditionsAreDelves) {
  KDBG_REQUIRE_REAL(HaveBpf() && !ModernDelve().empty(), kBothEngines);
  auto t = GoTarget::Start("values");
  ASSERT_TRUE(t.ok()) << t.status();
  auto both = [&](const std::string& script, const std::vector<std::string>& paths, size_t want) {
    return BothEnginesHits(**t, script, paths, want);
  };
  // recurse(5) makes 6 calls, n = 5..0: every second one.
  EXPECT_THAT(both("trace r main.recurse\ncond -hitcount r % 2\n", {"/recurse?n=5"}, 3),
              ElementsAre(StartsWith("r main.recurse main.go:59 n=4 "),
                          StartsWith("r main.recurse main.go:59 n=2 "),
                          StartsWith("r main.recurse main.go:59 n=0 ")));
  // Only the hits the condition lets through are counted: n = 3, 2, 1, 0 are hits 1..4.
  EXPECT_THAT(
      both("trace r main.recurse\ncond r n < 4\ncond -hitcount r > 2\n", {"/recurse?n=5"}, 2),
      ElementsAre(StartsWith("r main.recurse main.go:59 n=1 "),
                  StartsWith("r main.recurse main.go:59 n=0 ")));
  // One count over clampQty's call inlined in serveOrder and its out-of-line body: each request
  // calls both, the second hit of all is the only one reported.
  const std::string order = "/order?id=7&qty=1&note=nn&items=a";
  EXPECT_THAT(both("trace c main.clampQty\ncond -hitcount c == 2\n", {order, order}, 1),
              ElementsAre(StartsWith("c main.clampQty ")));
  // The returns of the calls reported, and no others, innermost first: recurse(n) returns n below
  // 64.
  Events ev;
  std::unique_ptr<EngineSession> s =
      StartEngine(**t, "ebpf", "trace r main.recurse\ncond -hitcount r % 2\non r print n\n", ev);
  ASSERT_NE(s->session, nullptr);
  Get(**t, "/recurse?n=5");
  ASSERT_TRUE(ev.WaitHits(3));
  ASSERT_TRUE(ev.WaitHits(3, absl::Seconds(10), /*returns=*/true));
  absl::SleepFor(absl::Milliseconds(200));
  s->End("ebpf");
  std::vector<std::string> returns;
  for (const v1::HitEvent& r : ev.Returns()) {
    ASSERT_EQ(r.results_size(), 1);
    returns.push_back(r.results(0).value());
  }
  EXPECT_THAT(returns, ElementsAre("0", "2", "4"));
  ExpectReleased(**t, ProbeAddress((*t)->pid(), "main.recurse"));
  // `== 2` can report one hit, `<= 2` two: then the probe is detached while the session goes on
  // (Delve disables such a breakpoint), and the target runs the function untouched.
  const uint64_t probe = ProbeAddress((*t)->pid(), "main.recurse");
  for (const auto& [hit_cond, reports] :
       std::vector<std::pair<std::string, size_t>>{{"== 2", 1}, {"<= 2", 2}}) {
    SCOPED_TRACE(hit_cond);
    Events ev2;
    std::unique_ptr<EngineSession> s2 = StartEngine(
        **t, "ebpf", absl::StrCat("trace r main.recurse\ncond -hitcount r ", hit_cond, "\n"), ev2);
    ASSERT_NE(s2->session, nullptr);
    EXPECT_NE(CodeByte((*t)->pid(), probe).first, CodeByte((*t)->pid(), probe).second);
    Get(**t, "/recurse?n=5");
    ASSERT_TRUE(ev2.WaitHits(reports));
    auto [live, file] = CodeByte((*t)->pid(), probe);
    for (int i = 0; i < 100 && live != file; ++i) {
      absl::SleepFor(absl::Milliseconds(20));
      std::tie(live, file) = CodeByte((*t)->pid(), probe);
    }
    EXPECT_EQ(live, file) << "the probe of a hit condition that can report no more stays armed";
    Get(**t, "/recurse?n=5");
    absl::SleepFor(absl::Milliseconds(100));
    s2->End("ebpf");
    EXPECT_EQ(ev2.Hits().size(), reports);
    ExpectReleased(**t, probe);
  }
  // `== 0` can report nothing: the probe is never attached, and the armed event says so.
  Events none;
  std::unique_ptr<EngineSession> s3 =
      StartEngine(**t, "ebpf", "trace r main.recurse\ncond -hitcount r == 0\n", none);
  ASSERT_NE(s3->session, nullptr);
  EXPECT_EQ(CodeByte((*t)->pid(), probe).first, CodeByte((*t)->pid(), probe).second);
  Get(**t, "/recurse?n=5");
  absl::SleepFor(absl::Milliseconds(100));
  s3->End("ebpf");
  EXPECT_THAT(none.Hits(), IsEmpty());
  std::vector<v1::Event> all = none.All();
  ASSERT_FALSE(all.empty());
  ASSERT_TRUE(all.front().has_armed());
  EXPECT_THAT(all.front().armed().engine_note(),
              HasSubstr("tracepoint r is not armed: its hit condition can never hold"));
  ExpectReleased(**t, probe);
}

// A generic function traced by its name without type parameters hits every instantiation, as on
// Delve (tests/targets/modern-values: sum[int] and sum[float64] per request).
TEST(EbpfEngineTest, AGenericFunctionTracedByNameHitsEveryInstantiation) {
  KDBG_REQUIRE_REAL(HaveBpf() && !ModernDelve().empty(), kBothEngines);
  auto t = GoTarget::Start("modern-values");
  ASSERT_TRUE(t.ok()) << t.status();
  const std::string script = "trace s main.sum\n";
  const std::vector<std::string> requests = {"/values?n=7&name=al"};
  std::vector<v1::HitEvent> ebpf = EngineHits(**t, "ebpf", script, requests, 2);
  std::vector<v1::HitEvent> dlv = EngineHits(**t, "delve", script, requests, 2);
  ExpectSameHits(ebpf, dlv, 2);
  std::vector<std::string> functions;
  for (const v1::HitEvent& h : ebpf) {
    functions.push_back(h.function());
    ASSERT_EQ(h.args_size(), 1);
    EXPECT_EQ(h.args(0).name(), "xs");
    EXPECT_THAT(h.args(0).value(), ::testing::AnyOf("[]go.shape.int len: 3, cap: 3, [7, 2, 3]",
                                                    "[]go.shape.float64 len: 2, cap: 2, [1.5, 7]"));
  }
  std::sort(functions.begin(), functions.end());
  EXPECT_THAT(functions,
              ::testing::ElementsAre("main.sum[go.shape.float64]", "main.sum[go.shape.int]"));
  ExpectReleased(**t, 0);
}

// A function the compiler inlined is traced at every call, as Delve traces it: main.clampQty is
// inlined in serveOrder and also called out of line (through clampFn), main.half only inlined.
// The eBPF engine probes each inlined call where Delve puts its breakpoint, reads the call's own
// parameters there (in the caller's frame), and reports the hit as Delve does: in the caller,
// at the inlined code's line.
TEST(EbpfEngineTest, InlinedCallsAreHitAsOnDelve) {
  KDBG_REQUIRE_REAL(HaveBpf() && !ModernDelve().empty(), kBothEngines);
  auto t = GoTarget::Start("values");
  ASSERT_TRUE(t.ok()) << t.status();
  const std::string script =
      "trace c main.clampQty\n"
      "on c print qty\n"
      "trace h half\n"  // Delve's shorthand for main.half
      "on h print n\n"
      "trace s main.scale\n"  // its one call passes a constant `by`: no DIE for it there
      "on s print by\n";
  auto plan = PlanFor((*t)->pid(), script);
  ASSERT_TRUE(plan.ok()) << plan.status();
  // clampQty's entry, its inlined call and its RETs; half's and scale's inlined calls.
  ASSERT_GE(plan->probes.size(), 5u);
  EXPECT_EQ(std::count_if(plan->probes.begin(), plan->probes.end(),
                          [](const ProbePlan& p) { return !p.is_return; }),
            4);
  EXPECT_EQ(plan->probes[1].caller, "main.serveOrder");
  EXPECT_EQ(plan->probes[1].entry, 0u);
  const std::vector<std::string> requests = {"/order?id=7&qty=1&note=nn&items=a",
                                             "/order?id=40&qty=3&items=b"};
  std::vector<v1::HitEvent> ebpf = EngineHits(**t, "ebpf", script, requests, 8);
  std::vector<v1::HitEvent> dlv = EngineHits(**t, "delve", script, requests, 8);
  const std::vector<std::string> ebpf_lines = ExpectSameHits(ebpf, dlv, 8);
  // What the test is about: both calls of clampQty per request (the inlined one in serveOrder
  // with the request's qty, the out-of-line one with qty+1), half's inlined call with the id, and
  // one hit count per tracepoint over its probes.
  EXPECT_THAT(ebpf_lines, Contains(StartsWith("c main.serveOrder main.go:")));
  EXPECT_THAT(ebpf_lines,
              Contains(AllOf(StartsWith("c main.serveOrder "), HasSubstr("qty=1 qty=1"))));
  EXPECT_THAT(ebpf_lines,
              Contains(AllOf(StartsWith("c main.clampQty "), HasSubstr("qty=2 qty=2"))));
  EXPECT_THAT(ebpf_lines,
              Contains(AllOf(StartsWith("h main.serveOrder "), HasSubstr("n=40 n=40"))));
  // A parameter the call has no DIE for: not among the arguments, printed <optimized out> by both
  // engines (the Delve engine knows scale declares `by` although no body of it exists).
  EXPECT_THAT(ebpf_lines, Contains("s main.serveOrder main.go:140 by=<optimized out> n=40"));
  for (const v1::HitEvent& h : dlv) {
    if (h.tracepoint() == "s") {
      EXPECT_EQ(h.vars(0).value(), "<optimized out>");
    }
  }
  std::vector<int64_t> c_counts;
  for (const auto& h : ebpf) {
    if (h.tracepoint() == "c") c_counts.push_back(h.hit_count());
  }
  EXPECT_EQ(c_counts, (std::vector<int64_t>{1, 2, 3, 4}));
  ExpectReleased(**t, plan->probes[1].address);
}

// A kernel fact the agent's rule against mixing the engines on one build rests on
// (agent/ebpf/build_claims.h): uprobes are kept per file and offset, not per process. Once a
// process has had a uprobe (MMF_HAS_UPROBES stays set until a trap finds none), every int3 it hits
// is first offered to the uprobes of its file: a Delve breakpoint's int3 at code where a uprobe of
// another process of the same file is looks like that uprobe's own. The kernel finds the uprobe,
// whose filter refuses this process, removes "its" int3 (Delve's breakpoint) and runs the
// original instruction: Delve never sees that hit nor any later one at that address, and nothing
// tells it. The eBPF engine probes an inlined call exactly where Delve breaks. (This is what made
// InlinedCallsAreHitAsOnDelve fail now and then in CI, beside another test's eBPF session on the
// same target file: each GoTarget now runs its own copy.) If a kernel ever tells the two apart,
// this test fails and the rule can go.
TEST(EbpfEngineTest, KernelFactAUprobeOfAnotherProcessOfTheFileTakesDelvesBreakpoint) {
  KDBG_REQUIRE_REAL(HaveBpf() && !ModernDelve().empty(), kBothEngines);
  auto a = GoTarget::Start("values");
  ASSERT_TRUE(a.ok()) << a.status();
  auto b = GoTarget::StartBinary((*a)->binary());
  ASSERT_TRUE(b.ok()) << b.status();
  const std::string script = "trace c main.clampQty\non c print qty\n";
  auto plan = PlanFor((*b)->pid(), script);
  ASSERT_TRUE(plan.ok()) << plan.status();
  ASSERT_GE(plan->probes.size(), 2u);
  ASSERT_EQ(plan->probes[1].caller, "main.serveOrder");
  const uint64_t inlined = plan->probes[1].address;  // where both engines stop at that call
  // b was traced with the eBPF engine earlier in its life.
  RunScript(**b, script, {"/order?id=1&qty=1"}, 2);
  Events on_a, on_b;
  std::unique_ptr<EngineSession> ebpf = StartEngine(**a, "ebpf", script, on_a);
  ASSERT_NE(ebpf->session, nullptr);
  std::unique_ptr<EngineSession> delve = StartEngine(**b, "delve", script, on_b);
  ASSERT_NE(delve->session, nullptr);
  EXPECT_EQ(CodeByte((*b)->pid(), inlined).first, 0xCC);  // Delve's int3
  Get(**b, "/order?id=2&qty=2");
  Get(**b, "/order?id=3&qty=3");
  Get(**a, "/order?id=4&qty=4");
  EXPECT_TRUE(on_a.WaitHits(2));  // the uprobes work in a
  EXPECT_FALSE(on_b.WaitHits(3, absl::Milliseconds(500)));
  // In b only the out-of-line calls hit; the int3 at the inlined call is gone from b's code,
  // although Delve still has its breakpoint there.
  std::vector<std::string> lines;
  for (const v1::HitEvent& h : on_b.Hits()) lines.push_back(HitLine(h));
  EXPECT_THAT(lines, ::testing::ElementsAre(StartsWith("c main.clampQty main.go:123 qty=3"),
                                            StartsWith("c main.clampQty main.go:123 qty=4")));
  auto [live, file] = CodeByte((*b)->pid(), inlined);
  EXPECT_EQ(live, file) << "Delve's int3 is still in b's code";
  // The Delve engine finds it at its next stop (the out-of-line call's) and says so, once.
  std::vector<std::string> lost;
  for (const v1::NoticeEvent& n : on_b.Notices()) {
    if (n.kind() == v1::NOTICE_KIND_BREAKPOINT_LOST) lost.push_back(n.message());
  }
  EXPECT_THAT(lost, ::testing::ElementsAre(StartsWith(absl::StrCat(
                        "tracepoint c: its breakpoint at 0x", absl::Hex(inlined),
                        " is no longer in the target's code: something else removed its int3"))));
  ebpf->End("ebpf");
  // The Delve engine's safe end finds the int3 gone and says so (safe_end.h).
  EXPECT_THAT(delve->End("delve"),
              HasSubstr(absl::StrCat("breakpoint 1 (c) at 0x", absl::Hex(inlined),
                                     " was no longer in the target's code")));
  ExpectReleased(**b, inlined);
  ExpectReleased(**a, inlined);
}

// What the agent does about it (agent/ebpf/engine_choice.h): while a process is traced with the
// eBPF engine, a Delve session on another process of the same build is refused, saying which
// session holds the build; once that one ended, Delve runs there and reports every call.
TEST(EbpfEngineTest, DelveIsRefusedWhereUprobesWouldTakeItsBreakpoints) {
  KDBG_REQUIRE_REAL(HaveBpf() && !ModernDelve().empty(), kBothEngines);
  auto a = GoTarget::Start("values");
  ASSERT_TRUE(a.ok()) << a.status();
  auto b = GoTarget::StartBinary((*a)->binary());
  ASSERT_TRUE(b.ok()) << b.status();
  const std::string work = kdbg::testing::MakeTempDir("build-claims");
  delve::DelveOptions d;
  d.dlv_path = ModernDelve();
  d.work_dir = work;
  std::shared_ptr<agent::DebugSessionFactory> delve_factory(
      delve::NewDelveSessionFactory(std::move(d)).release());
  std::shared_ptr<agent::DebugSessionFactory> ebpf_factory(NewEbpfSessionFactory({}).release());
  auto factory = NewEngineChoosingFactory(delve_factory, ebpf_factory);
  auto spec = [](const GoTarget& t, const std::string& engine, const std::string& id) {
    agent::TraceSpec s = SpecWithFacts(t, "trace c main.clampQty\non c print qty\n");
    s.session_id = id;
    s.engine = engine;
    return s;
  };
  Events on_a, on_b;
  auto traced = factory->StartTrace(spec(**a, "auto", "on-a"), on_a.Callback());
  ASSERT_TRUE(traced.ok()) << traced.status();
  auto refused = factory->StartTrace(spec(**b, "delve", "on-b"), on_b.Callback());
  EXPECT_TRUE(absl::IsFailedPrecondition(refused.status())) << refused.status();
  EXPECT_THAT(
      std::string(refused.status().message()),
      AllOf(
          HasSubstr(absl::StrCat("pid ", (*a)->pid(), " runs the same build as pid ", (*b)->pid())),
          HasSubstr("traced with the eBPF engine by session on-a"), HasSubstr("kdbg stop on-a")));
  auto st = kdbg::testing::ReadProcStatus((*b)->pid());
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_EQ(st->tracer_pid, 0);  // Delve never attached
  Get(**a, "/order?id=1&qty=1");
  EXPECT_TRUE(on_a.WaitHits(2));
  (*traced)->RequestEnd(v1::END_REASON_CLIENT_STOP);
  EXPECT_TRUE((*traced)->Wait(absl::Seconds(10)).ok());
  traced->reset();
  auto debugged = factory->StartTrace(spec(**b, "delve", "on-b"), on_b.Callback());
  ASSERT_TRUE(debugged.ok()) << debugged.status();
  Get(**b, "/order?id=2&qty=2");
  EXPECT_TRUE(on_b.WaitHits(2));  // the inlined call and the out-of-line one
  (*debugged)->RequestEnd(v1::END_REASON_CLIENT_STOP);
  EXPECT_TRUE((*debugged)->Wait(absl::Seconds(20)).ok());
  debugged->reset();
  std::filesystem::remove_all(work);
  ExpectReleased(**a, 0);
  ExpectReleased(**b, 0);
}

// At an inlined call a value may have no location (clampQty's `note` is only partly located in
// serveOrder): its print is unreadable and a condition on a value that is located there runs in
// the BPF program at that call too, as Delve evaluates it at each of its breakpoint's addresses.
TEST(EbpfEngineTest, ConditionsAndPrintsAtAnInlinedCallAreAsOnDelve) {
  KDBG_REQUIRE_REAL(HaveBpf() && !ModernDelve().empty(), kBothEngines);
  auto t = GoTarget::Start("values");
  ASSERT_TRUE(t.ok()) << t.status();
  const std::string script =
      "trace c main.clampQty\n"
      "on c print note\n"
      "cond c qty > 2\n";
  // qty=1: the inlined call sees 1, the out-of-line one 2 (no hit); qty=3: 3 and 4 (two hits).
  const std::vector<std::string> requests = {"/order?id=7&qty=1&note=nn&items=a",
                                             "/order?id=8&qty=3&items=b"};
  std::vector<v1::HitEvent> ebpf = EngineHits(**t, "ebpf", script, requests, 2);
  std::vector<v1::HitEvent> dlv = EngineHits(**t, "delve", script, requests, 2);
  const std::vector<std::string> lines = ExpectSameHits(ebpf, dlv, 2);
  EXPECT_THAT(lines,
              ::testing::ElementsAre(AllOf(StartsWith("c main.serveOrder "),
                                           HasSubstr("note=(unreadable"), HasSubstr("qty=3")),
                                     AllOf(StartsWith("c main.clampQty "), HasSubstr("note=\"fn\""),
                                           HasSubstr("qty=4"))));
  ExpectReleased(**t, 0);
}

// Return values: the eBPF engine's return events against Delve's own return tracing (what `dlv
// trace` does: a traceReturn breakpoint on every address RPCServer.FunctionReturnLocations gives,
// the results from the stopped thread's ReturnValues) on the same binary, with the same requests.
// Each request returns from main.handleOrder (int), then from main.summarize (string, int, bool;
// two RETs: qty < 0 takes the other one).
const std::vector<std::string>& ReturnRequests() {
  static const std::vector<std::string> r = {
      "/order?id=1&items=a,b&tag=first&qty=2",
      "/order?id=2&items=x&tag=t&qty=-3",
      "/order?id=3&items=a,b,c&tag=" + std::string(70, 'z') + "&qty=1",
  };
  return r;
}
// What they return, as `dlv trace` prints it after "=> ".
const std::vector<std::string>& ExpectedReturnLines() {
  static const std::vector<std::string> r = {
      "main.handleOrder => (4)",
      "main.summarize => (\"first!\",4,true)",
      "main.handleOrder => (-3)",
      "main.summarize => (\"negative\",3,false)",
      "main.handleOrder => (3)",
      absl::StrCat("main.summarize => (\"", std::string(64, 'z'), "\"...+7 more,2,false)"),
  };
  return r;
}

std::string ReturnLine(const std::string& function, const std::vector<std::string>& values) {
  return absl::StrCat(function, " => (", absl::StrJoin(values, ","), ")");
}

// What a return test traces: functions, the requests, the returns they make.
struct ReturnCase {
  std::vector<std::string> functions;
  std::vector<std::string> requests;
  size_t want = 0;
};
ReturnCase OrderReturns() {
  return {{"main.handleOrder", "main.summarize"}, ReturnRequests(), 2 * ReturnRequests().size()};
}

// The eBPF engine's return lines for `c` (OrderReturns: ReturnRequests()) on `target`.
std::vector<std::string> EbpfReturnLines(const GoTarget& t, const ReturnCase& c = OrderReturns()) {
  const size_t want = c.want;
  Events ev;
  auto factory = NewEbpfSessionFactory({});
  std::string script;
  for (size_t i = 0; i < c.functions.size(); ++i) {
    absl::StrAppend(&script, "trace t", i, " ", c.functions[i], "\n");
  }
  auto s = factory->StartTrace(Spec(t.pid(), script), ev.Callback());
  EXPECT_TRUE(s.ok()) << s.status();
  if (!s.ok()) return {};
  for (const std::string& r : c.requests) Get(t, r);
  EXPECT_TRUE(ev.WaitHits(want, absl::Seconds(10), /*returns=*/true));
  (*s)->RequestEnd(v1::END_REASON_CLIENT_STOP);
  auto ended = (*s)->Wait(absl::Seconds(10));
  EXPECT_TRUE(ended.ok());
  if (ended.ok()) {
    EXPECT_EQ(ended->hits(), static_cast<int64_t>(want)) << "returns are not hits";
  }
  std::vector<std::string> lines;
  for (const v1::HitEvent& r : ev.Returns()) {
    std::vector<std::string> values;
    for (const v1::Variable& v : r.results()) values.push_back(v.value());
    lines.push_back(ReturnLine(r.function(), values));
  }
  return lines;
}

// Delve's, driven as `dlv trace` drives it; the target runs on, released, afterwards.
std::vector<std::string> DelveReturnLines(const GoTarget& t, const std::string& dlv,
                                          const ReturnCase& c = OrderReturns()) {
  const size_t want = c.want;
  std::vector<std::string> lines;
  std::string home = kdbg::testing::MakeTempDir("ebpf-ret-delve");
  EXPECT_TRUE(delve::PrepareDelveHome(home, "", "").ok());
  std::string address = absl::StrCat("127.0.0.1:", kdbg::testing::FreePort());
  SpawnOptions o;
  o.argv = {dlv,          "attach",          absl::StrCat(t.pid()),
            "--headless", "--api-version=2", absl::StrCat("--listen=", address)};
  o.new_session = true;
  o.extra_env = delve::DelveHomeEnv(home);
  auto child = ChildProcess::Spawn(o);
  EXPECT_TRUE(child.ok()) << child.status();
  if (!child.ok()) return lines;
  delve::SocketRpcDialer dialer;
  std::unique_ptr<delve::RpcConnection> conn;
  for (int i = 0; i < 3000 && conn == nullptr && (*child)->Running(); ++i) {
    auto c = dialer.Dial(address);
    if (c.ok()) {
      conn = std::move(*c);
    } else {
      absl::SleepFor(absl::Milliseconds(10));
    }
  }
  EXPECT_NE(conn, nullptr) << "dlv attach did not listen";
  if (conn == nullptr) return lines;  // the child's destructor ends Delve
  delve::DelveClient client(std::move(conn));
  bool armed = true;
  for (const std::string& fn : c.functions) {
    auto addrs =
        client.Call("RPCServer.FunctionReturnLocations", {{"FnName", fn}}, absl::Seconds(30));
    EXPECT_TRUE(addrs.ok()) << addrs.status();
    if (!addrs.ok()) armed = false;
    for (const auto& a : addrs.ok() ? (*addrs)["Addrs"] : nlohmann::json::array()) {
      nlohmann::json bp = {{"addr", a},
                           {"traceReturn", true},
                           {"LoadArgs",
                            {{"FollowPointers", false},
                             {"MaxVariableRecurse", 1},
                             {"MaxStringLen", 64},
                             {"MaxArrayValues", 16},
                             {"MaxStructFields", 3}}}};
      auto created =
          client.Call("RPCServer.CreateBreakpoint", {{"Breakpoint", bp}}, absl::Seconds(30));
      EXPECT_TRUE(created.ok()) << created.status();
      if (!created.ok()) armed = false;
    }
  }
  std::thread load;
  if (armed) {
    load = std::thread([&] {
      for (const std::string& r : c.requests) Get(t, r);
    });
  }
  while (armed && lines.size() < want) {
    auto stop = client.Call("RPCServer.Command", delve::DelveClient::CommandParams("continue"),
                            absl::Seconds(30));
    if (!stop.ok()) {
      ADD_FAILURE() << stop.status();
      break;
    }
    for (const auto& th : (*stop)["State"]["Threads"]) {
      if (!th.contains("ReturnValues") || !th["ReturnValues"].is_array()) continue;
      std::vector<std::string> values;
      for (const auto& v : th["ReturnValues"]) values.push_back(delve::FormatVariable(v));
      lines.push_back(ReturnLine(th["function"]["name"].get<std::string>(), values));
    }
  }
  // Detach clears the breakpoints and lets the target run on (stopped at the last return).
  EXPECT_TRUE(client.Call("RPCServer.Detach", {{"Kill", false}}, absl::Seconds(30)).ok());
  if (load.joinable()) load.join();
  EXPECT_TRUE((*child)->Wait(absl::Seconds(20)).ok());
  std::filesystem::remove_all(home);
  return lines;
}

// Built with -N -l, Delve finds every result at the RETs: the eBPF engine prints the same.
TEST(EbpfEngineTest, ReturnValuesEqualWhatDelvePrints) {
  KDBG_REQUIRE_REAL(HaveBpf() && !ModernDelve().empty(), kBothEngines);
  auto t = GoTarget::Start("values-nol");
  ASSERT_TRUE(t.ok()) << t.status();
  std::vector<std::string> ebpf = EbpfReturnLines(**t);
  ExpectReleased(**t, ProbeAddress((*t)->pid(), "main.summarize"));
  std::vector<std::string> delve = DelveReturnLines(**t, ModernDelve());
  EXPECT_EQ(ebpf, delve);
  EXPECT_EQ(ebpf, ExpectedReturnLines()) << "equal to Delve's, and right";
  ExpectReleased(**t, 0);
}

// An error result holding a struct (its fields, as Delve loads a result: dlv trace's LoadArgs),
// a pointer (by address: pointers not followed), a named integer with constants, nil: by the
// subprogram of the dynamic type (KDBG_OP_CALL) at each RET, equal to Delve's ReturnValues.
TEST(EbpfEngineTest, InterfaceResultsEqualWhatDelvePrints) {
  KDBG_REQUIRE_REAL(HaveBpf() && !ModernDelve().empty(), kBothEngines);
  auto t = GoTarget::Start("values-nol");
  ASSERT_TRUE(t.ok()) << t.status();
  const ReturnCase c = {
      {"main.failure"},
      {"/failure?kind=fault", "/failure?kind=plain", "/failure?kind=code", "/failure"},
      4};
  std::vector<std::string> ebpf = EbpfReturnLines(**t, c);
  ExpectReleased(**t, 0);
  std::vector<std::string> delve = DelveReturnLines(**t, ModernDelve(), c);
  auto same_form = [](std::vector<std::string> lines) {  // each request allocates its own
    for (std::string& l : lines) l = WithoutAddresses(l);
    return lines;
  };
  EXPECT_EQ(same_form(ebpf), same_form(delve));
  ASSERT_EQ(ebpf.size(), 4u);
  EXPECT_EQ(ebpf[0], "main.failure => (error(main.fault {Code: 7, Op: \"dial\"}))");
  EXPECT_THAT(ebpf[1],
              ::testing::MatchesRegex(
                  R"(main\.failure => \(error\(\(\*errors\.errorString\)\(0x[0-9a-f]+\)\)\))"));
  EXPECT_EQ(ebpf[2], "main.failure => (error(codeRefused (2)))");
  EXPECT_EQ(ebpf[3], "main.failure => (error nil)");
  ExpectReleased(**t, 0);
}

// An empty interface printed, or as an argument, that holds a boolean, integer, float or string
// (named or not): its dynamic value as Delve prints it, read by its type's subprogram (for an `any`
// the eBPF engine compiles those of the binary's scalar types, one slot each; identical ones
// shared). One of another type (a pointer, a struct) still prints by its type and address, where
// Delve prints it whole. Compared with Delve's through memory (`b.V`): of one in registers (`v`,
// the argument) Delve 1.27.2 often prints "(unreadable error loading module data: ...)", as it
// reads the module data through the variable's register pieces.
TEST(EbpfEngineTest, EmptyInterfacesHoldingScalarsPrintTheirValuesAsDelveDoes) {
  KDBG_REQUIRE_REAL(HaveBpf() && !ModernDelve().empty(), kBothEngines);
  auto t = GoTarget::Start("values");
  ASSERT_TRUE(t.ok()) << t.status();
  const std::string script = "trace n main.note\non n print b.V\non n print v\n";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"string&who=ann", R"(interface {}("hello, ann"))"},
      {"long", absl::StrCat(R"(interface {}(")", Repeat("ab", 32), R"("...+6 more))")},
      {"int", "interface {}(-35)"},
      {"int8", "interface {}(-5)"},
      {"uint16", "interface {}(60005)"},
      {"float64", "interface {}(1.25)"},
      {"float32", "interface {}(0.625)"},
      {"bool", "interface {}(true)"},
      {"color&who=x", R"(interface {}("blue-x"))"},
      {"mode", "interface {}(modeRead|modeWrite (3))"},
      {"nil", "interface {} nil"},
      // Not read: by type and address, as before.
      {"order", "interface {}((*main.Order)(0xADDR))"},
      {"sticky", "interface {}(main.stickyNote {...})"},
  };
  std::vector<std::string> paths;
  paths.reserve(cases.size());
  for (const auto& [kind, want] : cases) paths.push_back(absl::StrCat("/note?kind=", kind));
  std::vector<v1::HitEvent> ebpf = EngineHits(**t, "ebpf", script, paths, paths.size());
  std::vector<v1::HitEvent> dlv = EngineHits(**t, "delve", script, paths, paths.size());
  ASSERT_EQ(ebpf.size(), cases.size());
  ASSERT_EQ(dlv.size(), cases.size());
  for (size_t i = 0; i < cases.size(); ++i) {
    SCOPED_TRACE(paths[i]);
    ASSERT_EQ(ebpf[i].vars_size(), 2);
    ASSERT_EQ(ebpf[i].args_size(), 2);
    ASSERT_EQ(dlv[i].vars_size(), 2);
    const std::string& want = cases[i].second;
    EXPECT_EQ(WithoutAddresses(ebpf[i].vars(0).value()), want);
    EXPECT_EQ(WithoutAddresses(ebpf[i].vars(1).value()), want);
    EXPECT_EQ(WithoutAddresses(ebpf[i].args(0).value()), want);
    EXPECT_EQ(ebpf[i].args(1).name(), "b");
    if (absl::EndsWith(want, ")(0xADDR))")) {
      // Delve follows the pointer: "interface {}(*main.Order {ID: 5, ...})".
      EXPECT_THAT(dlv[i].vars(0).value(), StartsWith("interface {}(*main.Order {ID: 5, "));
    } else if (absl::EndsWith(want, " {...})")) {
      EXPECT_EQ(dlv[i].vars(0).value(), R"(interface {}(main.stickyNote {Note: "stuck", At: 5}))");
    } else {
      EXPECT_EQ(dlv[i].vars(0).value(), want);
    }
  }
  ExpectReleased(**t, ProbeAddress((*t)->pid(), "main.note"));
}

// A logger's `args ...any` as an argument: its first 16 elements, each an empty interface read as
// Delve lists arguments (pointers not followed): a string's and an int's values, a pointer's type
// and address, nil, a bool; a struct in one by its type only (Delve shows its fields). Printed
// whole (`print args`) it runs on Delve, which prints every type in it whole.
TEST(EbpfEngineTest, VariadicAnyArgumentsListTheirElementsAsDelveDoes) {
  KDBG_REQUIRE_REAL(HaveBpf() && !ModernDelve().empty(), kBothEngines);
  auto t = GoTarget::Start("values");
  ASSERT_TRUE(t.ok()) << t.status();
  const std::string script = "trace l main.logf\n";
  const std::vector<std::string> paths = {"/logf?n=5", "/logf?n=20"};
  std::vector<v1::HitEvent> ebpf = EngineHits(**t, "ebpf", script, paths, paths.size());
  std::vector<v1::HitEvent> dlv = EngineHits(**t, "delve", script, paths, paths.size());
  ASSERT_EQ(ebpf.size(), 2u);
  ASSERT_EQ(dlv.size(), 2u);
  std::vector<std::string> e, d;
  for (size_t i = 0; i < 2; ++i) {
    ASSERT_EQ(ebpf[i].args_size(), 2);
    ASSERT_EQ(dlv[i].args_size(), 2);
    e.push_back(WithoutAddresses(ebpf[i].args(1).value()));
    d.push_back(WithoutAddresses(dlv[i].args(1).value()));
  }
  const std::string five =
      R"([]interface {} len: 5, cap: 8, [interface {}("arg0"), interface {}(100), )"
      R"(interface {}((*main.Order)(0xADDR)), interface {} nil, interface {}(true)])";
  EXPECT_EQ(e[0], five);
  EXPECT_EQ(d[0], five);
  // The struct elements (5 and 11) elided on eBPF; the rest as Delve's.
  EXPECT_THAT(e[1], HasSubstr("interface {}(main.stickyNote {...}), interface {}(\"arg6\")"));
  EXPECT_THAT(e[1], EndsWith("interface {}(1300), interface {}((*main.Order)(0xADDR)), interface "
                             "{} nil, ...+4 more]"));
  std::string delve_elided = d[1];
  for (const char* at : {"5", "11"}) {
    delve_elided = absl::StrReplaceAll(
        delve_elided,
        {{absl::StrCat(R"(main.stickyNote {Note: "s", At: )", at, "}"), "main.stickyNote {...}"}});
  }
  EXPECT_EQ(e[1], delve_elided);
  // Printed whole: not on eBPF (auto takes Delve), with the reason.
  Events ev;
  auto refused = NewEbpfSessionFactory({})->StartTrace(
      SpecWithFacts(**t, "trace l main.logf\non l print args\n"), ev.Callback());
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnimplemented) << refused.status();
  EXPECT_THAT(refused.status().message(),
              HasSubstr("is interface {}, an empty interface inside a value printed whole"));
  ExpectReleased(**t, ProbeAddress((*t)->pid(), "main.logf"));
}

// An empty interface as a result, read at each RET (Delve 1.27 prints <optimized out> for results
// of Go 1.26 optimized code): a scalar's value, a pointer by its type and address, nil.
TEST(EbpfEngineTest, EmptyInterfaceResultsPrintTheirScalarValues) {
  KDBG_REQUIRE_REAL(HaveBpf(), "root and a kernel with BPF uprobes");
  auto t = GoTarget::Start("values");
  ASSERT_TRUE(t.ok()) << t.status();
  auto ev = RunScript(
      **t, "trace p main.pick\n",
      {"/pick?kind=string", "/pick?kind=int", "/pick?kind=order", "/pick?kind=none"}, 4, 4);
  std::vector<std::string> results;
  for (const v1::HitEvent& r : ev->Returns()) {
    ASSERT_EQ(r.results_size(), 1);
    results.push_back(WithoutAddresses(r.results(0).value()));
  }
  EXPECT_THAT(results, ElementsAre(R"(interface {}("picked-5"))", "interface {}(15)",
                                   "interface {}((*main.Order)(0xADDR))", "interface {} nil"));
  ExpectReleased(**t, ProbeAddress((*t)->pid(), "main.pick"));
}

// Go 1.26 optimized (the default build): Go's DWARF has no location for the results at the RETs,
// so Delve 1.27 prints `<optimized out>` for each; at a RET Go's register ABI says where they
// are, and the eBPF engine reads them there. Where Delve prints a value, both agree.
// Interfaces as arguments and results of an optimized function: an error result at each RET
// (nil, or its dynamic type by the itab symbol with the data pointer) and an empty-interface
// argument (nil, a pointer, an int: the dynamic type by its descriptor, DW_AT_go_runtime_type, and
// the int's value by its subprogram; Delve 1.27.2 prints "error loading module data: read out of
// bounds" for this one, in registers);
// the other arguments as Delve lists them: a slice by its len and cap, an array with its elements.
TEST(EbpfEngineTest, InterfaceArgumentsAndResultsNameTheirDynamicType) {
  KDBG_REQUIRE_REAL(HaveBpf(), "root and a kernel with BPF uprobes");
  auto t = GoTarget::Start("values");
  ASSERT_TRUE(t.ok()) << t.status();
  auto ev = RunScript(**t, "trace v main.validate\non v print extra\n",
                      {"/order?id=1&qty=2&items=a,b,c", "/order?id=2&qty=-1&items=x&extra=order",
                       "/order?id=3&qty=1&items=y&extra=qty"},  // the last: extra == 1, an error
                      3, 3);
  std::vector<std::string> results;
  for (const v1::HitEvent& r : ev->Returns()) {
    ASSERT_EQ(r.results_size(), 1);
    results.push_back(r.results(0).value());
  }
  const auto err_string =
      ::testing::MatchesRegex(R"(error\(\(\*errors\.errorString\)\(0x[0-9a-f]+\)\))");
  EXPECT_THAT(results, ::testing::ElementsAre("error nil", err_string, err_string));
  auto hits = ev->Hits();
  ASSERT_EQ(hits.size(), 3u);
  auto args = [](const v1::HitEvent& h) {
    std::vector<std::string> out;
    for (const auto& a : h.args()) out.push_back(absl::StrCat(a.name(), "=", a.value()));
    return out;
  };
  const std::string digest = "digest=[4]uint8 len: 4, cap: 4, [0, 0, 0, 0]";
  EXPECT_THAT(args(hits[0]), ::testing::ElementsAre(
                                 "qty=2", "items=[]string len: 3, cap: 3, [\"a\", \"b\", \"c\"]",
                                 digest, "extra=interface {} nil"));
  EXPECT_THAT(
      args(hits[1]),
      ::testing::ElementsAre(
          "qty=-1", "items=[]string len: 1, cap: 1, [\"x\"]", digest,
          ::testing::MatchesRegex(R"(extra=interface \{\}\(\(\*main\.Order\)\(0x[0-9a-f]+\)\))")));
  EXPECT_THAT(args(hits[2]),
              ::testing::ElementsAre("qty=1", "items=[]string len: 1, cap: 1, [\"y\"]", digest,
                                     "extra=interface {}(1)"));
  ASSERT_EQ(hits[2].vars_size(), 1);
  EXPECT_EQ(hits[2].vars(0).value(), "interface {}(1)");
  ExpectReleased(**t, ProbeAddress((*t)->pid(), "main.validate"));
}

// A field through an empty interface (any): the dynamic type is told by its descriptor, the
// interface's first word, among every type of the binary with that field (*main.Order and
// main.stickyNote have a Note). A type without the field, a nil interface and a nil *main.Order in
// it are unreadable, each saying why. (Not compared with Delve: Delve 1.27.2 cannot read this
// argument in registers, InterfaceArgumentsAndResultsNameTheirDynamicType.)
TEST(EbpfEngineTest, AFieldThroughAnEmptyInterfaceIsReadByItsDynamicType) {
  KDBG_REQUIRE_REAL(HaveBpf(), "root and a kernel with BPF uprobes");
  auto t = GoTarget::Start("values");
  ASSERT_TRUE(t.ok()) << t.status();
  const std::vector<std::string> requests = {
      "/order?id=1&items=a&note=by-ptr&extra=order",
      "/order?id=2&items=b&note=stuck&extra=sticky",
      "/order?id=3&items=c&extra=qty",
      "/order?id=4&items=d",
      "/order?id=5&items=e&extra=nilorder",
  };
  auto ev = RunScript(**t, "trace v main.validate\non v print extra.Note\n", requests,
                      requests.size(), requests.size());
  std::vector<std::string> notes;
  for (const v1::HitEvent& h : ev->Hits()) {
    ASSERT_EQ(h.vars_size(), 1);
    notes.push_back(h.vars(0).value());
  }
  EXPECT_THAT(notes,
              ::testing::ElementsAre(
                  "\"by-ptr\"", "\"stuck\"",
                  "(unreadable dynamic type int is not one this expression was compiled for)",
                  "(unreadable nil interface)",
                  // The *main.Order alternative matched and met nil: the guards of the types
                  // tried after it do not hide that.
                  "(unreadable nil pointer dereference)"));
  ExpectReleased(**t, ProbeAddress((*t)->pid(), "main.validate"));
}

// Parameters passed on the stack (past the nine integer registers, or a struct that holds an
// array): Go's DWARF locates them for the whole function, id and qty by location lists, r by one
// expression as a DW_FORM_block1 ("DW_OP_fbreg: 16"), which libdw alone refuses in a DWARF 5 unit.
TEST(EbpfEngineTest, ArgumentsPassedOnTheStackAreRead) {
  KDBG_REQUIRE_REAL(HaveBpf(), "root and a kernel with BPF uprobes");
  auto t = GoTarget::Start("values");
  ASSERT_TRUE(t.ok()) << t.status();
  auto ev =
      RunScript(**t, "trace s main.stackArgs\non s print id\non s print qty\non s print r.ID\n",
                {"/order?id=31&qty=7", "/order?id=-4&qty=-9"}, 2);
  auto hits = ev->Hits();
  ASSERT_EQ(hits.size(), 2u);
  auto vars = [](const v1::HitEvent& h) {
    std::vector<std::string> out;
    for (const auto& v : h.vars()) out.push_back(v.value());
    return out;
  };
  EXPECT_THAT(vars(hits[0]), ::testing::ElementsAre("31", "7", "310"));
  EXPECT_THAT(vars(hits[1]), ::testing::ElementsAre("-4", "-9", "-40"));
  ASSERT_EQ(hits[1].args_size(), 12);
  EXPECT_EQ(hits[1].args(8).value(), "9");
  EXPECT_EQ(hits[1].args(10).name(), "qty");
  EXPECT_EQ(hits[1].args(10).value(), "-9");
  EXPECT_EQ(hits[1].args(11).name(), "r");
  // A struct holding an array, on the stack: as Delve lists it.
  EXPECT_EQ(hits[1].args(11).value(),
            "main.receipt {ID: -40, Sums: [2]int len: 2, cap: 2, [-9, 1]}");
  ExpectReleased(**t, ProbeAddress((*t)->pid(), "main.stackArgs"));
}

TEST(EbpfEngineTest, ReturnValuesOnAnOptimizedTargetComeFromTheRegisterAbi) {
  KDBG_REQUIRE_REAL(HaveBpf() && !ModernDelve().empty(), kBothEngines);
  auto t = GoTarget::Start("values");
  ASSERT_TRUE(t.ok()) << t.status();
  std::vector<std::string> ebpf = EbpfReturnLines(**t);
  ExpectReleased(**t, ProbeAddress((*t)->pid(), "main.summarize"));
  EXPECT_EQ(ebpf, ExpectedReturnLines());
  std::vector<std::string> delve = DelveReturnLines(**t, ModernDelve());
  ASSERT_EQ(delve.size(), ebpf.size());
  for (size_t i = 0; i < delve.size(); ++i) {
    // Per value: Delve's `<optimized out>` or the same text.
    std::string d = delve[i].substr(delve[i].find("=> (") + 4);
    std::string e = ebpf[i].substr(ebpf[i].find("=> (") + 4);
    EXPECT_EQ(delve[i].substr(0, delve[i].find(" =>")), ebpf[i].substr(0, ebpf[i].find(" =>")));
    if (!absl::StrContains(d, "<optimized out>")) {
      EXPECT_EQ(d, e) << i;
    }
  }
  ExpectReleased(**t, 0);
}

}  // namespace
}  // namespace kdbg::ebpf
