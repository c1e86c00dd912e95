// Each step of the resolver on its own, over an in-memory /proc
// (common/testing/fake_proc_reader.h). The whole resolver on recorded trees is resolver_test.cc; on
// real containers, tests/integration/resolver.
#include "agent/resolver/resolve_steps.h"

#include <memory>

#include "absl/strings/str_join.h"
#include "common/testing/fake_proc_reader.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kdbg::agent {
namespace {

using ::kdbg::testing::FakeProcess;
using ::kdbg::testing::FakeProcReader;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kApp[] = "5dd96d5394ca930a854a390ea46f7515a8bc930123eb3251ba20f2708a38fc61";
constexpr char kSandbox[] = "1f0c7b4a2d1e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f708192a3b4c5d6";
const std::string kPod = "/kubepods/besteffort/poda36d0c1d-0b26-4451-8d80-9c195e004afa/";

// A node with a CRI shim serving pause and the app container (hello-world behind a shell).
class Node {
 public:
  Node() {
    absl::MutexLock l(&proc.mu);
    proc.any_pid_status.reset();
  }
  void Add(pid_t pid, pid_t ppid, uint64_t start, std::vector<std::string> argv,
           const std::string& cgroup, const std::string& comm = "") {
    FakeProcess p;
    p.info.start_time_ticks = start;
    p.info.comm = comm.empty() && !argv.empty() ? argv[0].substr(argv[0].rfind('/') + 1) : comm;
    p.info.cmdline = std::move(argv);
    p.info.cgroup = cgroup;
    p.status.ppid = ppid;
    absl::MutexLock l(&proc.mu);
    proc.processes[pid] = p;
  }
  FakeProcReader proc;
};

std::string V2(const std::string& path) { return "0::" + path + "\n"; }

std::unique_ptr<Node> PodNode() {
  auto node = std::make_unique<Node>();
  Node& n = *node;
  n.Add(1, 0, 10, {"/sbin/init"}, V2("/init.scope"));
  n.Add(4200, 1, 500, {"/usr/bin/containerd-shim-runc-v2", "-namespace", "k8s.io", "-id", kSandbox},
        V2("/system.slice/containerd.service"));
  n.Add(4210, 4200, 510, {"/pause"}, V2(kPod + kSandbox));
  n.Add(4242, 4200, 600, {"/bin/sh", "-c", "/hello-world"}, V2(kPod + kApp));
  n.Add(4243, 4242, 610, {"/hello-world"}, V2(kPod + kApp));
  n.Add(4300, 1, 700, {"-bash"}, V2("/user.slice"));
  return node;
}

ProcessInfo Proc(std::vector<std::string> argv, std::string comm = "") {
  ProcessInfo p;
  p.pid = 7;
  p.comm = std::move(comm);
  p.cmdline = std::move(argv);
  return p;
}

TEST(KindOf, TheProcessesThatAreNeverTargets) {
  EXPECT_EQ(KindOf(Proc({"/pause"})), Kind::kPause);
  EXPECT_EQ(KindOf(Proc({"/usr/bin/conmon", "-b", "x"})), Kind::kMonitor);
  EXPECT_EQ(KindOf(Proc({"/usr/bin/containerd-shim-runc-v2", "-id", "x"})), Kind::kShim);
  EXPECT_EQ(KindOf(Proc({"docker-containerd-shim", kApp})), Kind::kShim);
  EXPECT_EQ(KindOf(Proc({"/usr/bin/containerd-shim-runsc-v1"})), Kind::kGvisor);
  EXPECT_EQ(KindOf(Proc({"/opt/kata/bin/qemu-system-x86_64"})), Kind::kKata);
  EXPECT_EQ(KindOf(Proc({"runc", "init"}, "runc:[2:INIT]")), Kind::kRuntimeInit);
  EXPECT_EQ(KindOf(Proc({}, "runc:[1:CHILD]")), Kind::kRuntimeInit);
  EXPECT_EQ(KindOf(Proc({"/usr/bin/runc", "--version"})), Kind::kOrdinary);
  EXPECT_EQ(KindOf(Proc({"/hello-world"})), Kind::kOrdinary);
  EXPECT_EQ(Describe(Proc({"/bin/sh", "-c", "x"})), "7 (/bin/sh -c x)");
  EXPECT_EQ(Describe(Proc({}, "kworker/0:1")), "7 ([kworker/0:1])");
  EXPECT_EQ(ShortId(kApp), "5dd96d5394ca");
}

TEST(ScanCgroupMembers, MembersMonitorsAndTheFullId) {
  auto node = PodNode();
  Node& n = *node;
  n.Add(3000, 1, 400, {"/usr/bin/conmon"},
        V2(std::string("/kubepods.slice/crio-conmon-") + kApp + ".scope"));
  std::vector<std::string> evidence;
  auto scan = ScanCgroupMembers(n.proc, {"containerd", std::string(kApp).substr(0, 12)}, &evidence);
  ASSERT_TRUE(scan.ok()) << scan.status();
  EXPECT_EQ(scan->full_id, kApp);  // the short ID given, the full one found
  EXPECT_THAT(scan->members, ElementsAre(4242, 4243));
  EXPECT_THAT(scan->monitors, ElementsAre(3000));
  EXPECT_EQ(scan->scanned, 7u);
  EXPECT_EQ(scan->pod_uid, "a36d0c1d-0b26-4451-8d80-9c195e004afa");
  ASSERT_EQ(evidence.size(), 2u);
  EXPECT_THAT(evidence[0], HasSubstr("cgroup: 2 of 7 processes name container 5dd96d5394ca"));
  EXPECT_THAT(evidence[1], HasSubstr("monitor (conmon) pids 3000"));

  evidence.clear();
  auto none = ScanCgroupMembers(n.proc, {"", std::string(64, 'a')}, &evidence);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->members.empty());
  EXPECT_THAT(evidence[0], HasSubstr("cgroup: none of 7 processes under /fake/proc"));
}

TEST(CheckStateFiles, EachFactCheckedAgainstTheLiveProcess) {
  auto node = PodNode();
  Node& n = *node;
  ProcessCache procs(&n.proc);
  std::set<pid_t> members = {4242, 4243};
  std::vector<std::string> evidence;
  std::vector<StateFact> facts = {
      {"run/containerd/.../init.pid", "containerd", 4242, 0, false, ""},
      {"run/containerd/runc/k8s.io/<id>/state.json", "runc", 4242, 600, false, ""},
      {"stale", "runc", 9999, 0, false, ""},
      {"reused", "crun", 4243, 599, false, ""},
      {"elsewhere", "docker", 4300, 0, false, ""},
  };
  StateFileResult r = CheckStateFiles(facts, procs, &members, &evidence);
  EXPECT_EQ(r.init, 4242);
  EXPECT_EQ(r.runtime, "containerd");
  EXPECT_EQ(r.sandbox, "");
  std::string ev = absl::StrJoin(evidence, "\n");
  EXPECT_THAT(ev, HasSubstr("init pid 4242 (agrees with cgroup)"));
  EXPECT_THAT(ev, HasSubstr("start time 600 matches (agrees with cgroup)"));
  EXPECT_THAT(ev, HasSubstr("pid 9999: no such process (stale file)"));
  EXPECT_THAT(ev, HasSubstr("start time 599 != process's 610: PID reused, ignored"));
  EXPECT_THAT(ev, HasSubstr("init pid 4300 (DISAGREES with cgroup; ignored)"));

  // A monitor is taken out of the members; a sandbox is reported.
  members = {3000, 4242};
  n.Add(3000, 1, 400, {"/usr/bin/conmon"}, V2("/x"));
  evidence.clear();
  r = CheckStateFiles({{"conmon.pid", "cri-o", 3000, 0, true, ""},
                       {"run/containerd/runsc/k8s.io/<id>", "containerd", 0, 0, false, "gvisor"}},
                      procs, &members, &evidence);
  EXPECT_THAT(members, ElementsAre(4242));
  EXPECT_EQ(r.sandbox, "gvisor");
}

TEST(AddStateInitFamily, TheInitAndItsDescendantsInItsCgroup) {
  Node n;
  n.Add(1, 0, 10, {"/sbin/init"}, V2("/../.."));
  n.Add(4242, 4200, 600, {"/bin/sh", "-c", "/hello-world"}, V2("/"));
  n.Add(4243, 4242, 610, {"/hello-world"}, V2("/"));
  n.Add(4244, 4243, 620, {"/hello-world-child"}, V2("/"));
  n.Add(5000, 1, 700, {"/other"}, V2("/"));  // same cgroup text, not a descendant
  ProcessCache procs(&n.proc);
  std::set<pid_t> members;
  std::vector<std::string> evidence;
  ASSERT_TRUE(AddStateInitFamily(n.proc, procs, 4242, &members, &evidence).ok());
  EXPECT_THAT(members, ElementsAre(4242, 4243, 4244));
  EXPECT_THAT(evidence.back(), HasSubstr("using init 4242 and its descendants"));
  members.clear();
  ASSERT_TRUE(AddStateInitFamily(n.proc, procs, 9999, &members, &evidence).ok());
  EXPECT_TRUE(members.empty());  // a vanished init adds nothing
}

TEST(ClassifyMembers, PauseIsExcludedAndAStartingContainerIsRetryable) {
  auto node = PodNode();
  Node& n = *node;
  ProcessCache procs(&n.proc);
  std::vector<std::string> evidence;
  auto c = ClassifyMembers({4210, 4242, 4243, 9999}, procs, kApp, &evidence);
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_EQ(c->ordinary.size(), 2u);
  EXPECT_EQ(c->ordinary[0]->pid, 4242);
  EXPECT_THAT(c->excluded, ElementsAre("4210 (/pause) is pause"));

  auto only_pause = ClassifyMembers({4210}, procs, kApp, &evidence);
  EXPECT_EQ(only_pause.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(only_pause.status().message(), HasSubstr("holds only pause or monitor processes"));

  n.Add(4250, 4200, 630, {"runc", "init"}, V2(kPod + kApp), "runc:[2:INIT]");
  auto starting = ClassifyMembers({4250}, procs, kApp, &evidence);
  EXPECT_EQ(starting.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(starting.status().message(), HasSubstr("is still starting"));
  EXPECT_THAT(starting.status().message(), HasSubstr("retry"));

  n.Add(4260, 4200, 640, {"/usr/bin/runsc-sandbox"}, V2(kPod + kApp));
  auto gvisor = ClassifyMembers({4260}, procs, kApp, &evidence);
  EXPECT_EQ(gvisor.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(gvisor.status().message(), HasSubstr("gVisor sandbox"));
}

TEST(FindInit, TheMemberWhoseParentIsOutside) {
  auto node = PodNode();
  Node& n = *node;
  ProcessCache procs(&n.proc);
  std::vector<const ProcessInfo*> ordinary = {procs.Get(4242), procs.Get(4243)};
  std::vector<std::string> evidence;
  const ProcessInfo* init = FindInit(ordinary, {4242, 4243}, 0, &evidence);
  ASSERT_NE(init, nullptr);
  EXPECT_EQ(init->pid, 4242);
  EXPECT_THAT(evidence.back(), HasSubstr("init: 4242 (/bin/sh -c /hello-world)"));
  // Two roots (the cgroup scan missed the shell): the state files' init wins over the older one.
  init = FindInit(ordinary, {4243}, 4243, &evidence);
  EXPECT_EQ(init->pid, 4243);
  init = FindInit(ordinary, {4243}, 0, &evidence);
  EXPECT_EQ(init->pid, 4242);  // the oldest
}

TEST(CheckAncestry, ShimsMonitorsAndSandboxes) {
  auto node = PodNode();
  Node& n = *node;
  ProcessCache procs(&n.proc);
  std::vector<std::string> evidence;
  ASSERT_TRUE(CheckAncestry(*procs.Get(4242), procs, {"", kApp}, kApp, &evidence).ok());
  EXPECT_THAT(evidence.back(),
              HasSubstr("shim: parent 4200 is containerd-shim-runc-v2 -id 1f0c7b4a2d1e (a pod "
                        "sandbox's shim serves all its containers)"));
  n.Add(4400, 1, 400, {"/usr/bin/containerd-shim-runsc-v1", "-id", kApp}, V2("/x"));
  n.Add(4401, 4400, 410, {"/hello-world"}, V2(kPod + kApp));
  auto sandboxed = CheckAncestry(*procs.Get(4401), procs, {"", kApp}, kApp, &evidence);
  EXPECT_EQ(sandboxed.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(sandboxed.message(), HasSubstr("served by containerd-shim-runsc-v1"));
  n.Add(3000, 1, 400, {"/usr/bin/conmon"}, V2("/x"));
  n.Add(3010, 3000, 410, {"/app/server"}, V2(kPod + kApp));
  ASSERT_TRUE(CheckAncestry(*procs.Get(3010), procs, {"", kApp}, kApp, &evidence).ok());
  EXPECT_THAT(evidence.back(), HasSubstr("monitor: parent 3000 is conmon"));
}

TEST(ChooseTarget, GoInitElseTheOnlyGoProgram) {
  auto node = PodNode();
  Node& n = *node;
  n.Add(4244, 4242, 620, {"/sidecar"}, V2(kPod + kApp));
  ProcessCache procs(&n.proc);
  std::set<std::string> go_programs = {"/hello-world"};
  BinaryReadFn read = [&](const ProcessInfo& p, std::string*) {
    kdbg::v1::BinaryInfo b;
    b.set_path(p.cmdline[0]);
    if (go_programs.count(p.cmdline[0])) b.set_go_version("go1.26.8");
    return b;
  };
  const ProcessInfo* sh = procs.Get(4242);
  std::vector<const ProcessInfo*> ordinary = {sh, procs.Get(4243), procs.Get(4244)};
  std::vector<std::string> evidence;
  auto c = ChooseTarget(*sh, ordinary, read, kApp, &evidence);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->target->pid, 4243);
  EXPECT_THAT(evidence.back(), HasSubstr("target: the only Go program in the container"));

  go_programs.insert("/sidecar");
  auto two = ChooseTarget(*sh, ordinary, read, kApp, &evidence);
  EXPECT_EQ(two.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(two.status().message(), HasSubstr("runs 2 Go programs"));

  go_programs.insert("/bin/sh");
  auto init = ChooseTarget(*sh, ordinary, read, kApp, &evidence);
  ASSERT_TRUE(init.ok());
  EXPECT_EQ(init->target->pid, 4242);
  EXPECT_THAT(evidence.back(), HasSubstr("target: the init is a Go program (go1.26.8)"));

  go_programs.clear();
  auto none = ChooseTarget(*sh, ordinary, read, kApp, &evidence);
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->target->pid, 4242);  // the init, found not Go by Finish
  EXPECT_EQ(none->binary.go_version(), "");
}

}  // namespace
}  // namespace kdbg::agent
