// The eBPF engine against the real kernel and a real Go 1.26 optimised target (tests/targets/values).
// Every test checks that the target still answers, was never ptrace-attached, and that no uprobe
// is left in its code (the probed byte in /proc/PID/mem is the file's byte again, not int3).
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "agent/delve/delve_engine.h"
#include "agent/ebpf/bpf_probes.h"
#include "agent/ebpf/ebpf_session.h"
#include "agent/ebpf/plan.h"
#include "agent/gobinary/dwarf.h"
#include "common/child_process.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/go_target.h"
#include "tests/support/http_probe.h"
#include "tests/support/proc_probe.h"
#include "tests/support/test_env.h"

namespace kdbg::ebpf {
namespace {

using kdbg::testing::GoTarget;
using ::testing::HasSubstr;

bool HaveBpf() { return ::geteuid() == 0 && CheckNodeSupport().ok(); }

class Events {
 public:
  agent::EventCallback Callback() {
    return [this](const v1::Event& e) {
      absl::MutexLock lock(&mu_);
      events_.push_back(e);
    };
  }
  std::vector<v1::Event> All() {
    absl::MutexLock lock(&mu_);
    return events_;
  }
  std::vector<v1::HitEvent> Hits() {
    std::vector<v1::HitEvent> out;
    for (const auto& e : All()) {
      if (e.has_hit()) out.push_back(e.hit());
    }
    return out;
  }
  std::vector<v1::NoticeEvent> Notices() {
    std::vector<v1::NoticeEvent> out;
    for (const auto& e : All()) {
      if (e.has_notice()) out.push_back(e.notice());
    }
    return out;
  }
  bool WaitHits(size_t n, absl::Duration timeout = absl::Seconds(10)) {
    absl::MutexLock lock(&mu_);
    auto enough = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      size_t c = 0;
      for (const auto& e : events_) c += e.has_hit();
      return c >= n;
    };
    return mu_.AwaitWithTimeout(absl::Condition(&enough), timeout);
  }

 private:
  absl::Mutex mu_;
  std::vector<v1::Event> events_ ABSL_GUARDED_BY(mu_);
};

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

// Where the engine puts the probe of `function` in the target.
uint64_t ProbeAddress(pid_t pid, const std::string& function) {
  auto dwarf = gobinary::DwarfReader::Open(absl::StrCat("/proc/", pid, "/exe"));
  if (!dwarf.ok()) return 0;
  auto script = delve::ParseTraceScript(absl::StrCat("trace ", function, "\n"), "t");
  if (!script.ok()) return 0;
  auto plan = CompilePlan(*script, "t", **dwarf);
  return plan.ok() ? plan->probes[0].address : 0;
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
    "on h print d.Text\n";

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
  EXPECT_THAT(vars(hits[0]),
              ::testing::ElementsAre("tag=\"first\"", "o.ID=7", "o.Customer.Name=\"ann\"",
                                     "len(o.Items)=3", "o.Paid=true", "o.Weight=21",
                                     "o.Customer.Tier=3", "d.Text=\"lbl\""));
  EXPECT_THAT(vars(hits[1]),
              ::testing::ElementsAre(
                  absl::StrCat("tag=\"", std::string(64, 'z'), "\"...+6 more"), "o.ID=-12",
                  "o.Customer.Name=\"\"", "len(o.Items)=1", "o.Paid=false", "o.Weight=65500",
                  "o.Customer.Tier=0", HasSubstr("d.Text=(unreadable")));
  EXPECT_GT(hits[0].goroutine(), 0);
  EXPECT_EQ(hits[0].function(), "main.handleOrder");
  EXPECT_EQ(hits[0].hit_count(), 1);
  EXPECT_EQ(hits[1].hit_count(), 2);
  ExpectReleased(**t, probe);
}

}  // namespace
}  // namespace kdbg::ebpf
