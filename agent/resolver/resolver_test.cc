// The resolver over recorded /proc trees (testdata/make_trees.sh), one per node layout. Binaries
// come from a fake reader keyed by the exe link's target, so the tests need no real ELF files.
#include <unistd.h>

#include <map>

#include "absl/strings/str_join.h"
#include "agent/gobinary/testing/fake_inspector.h"
#include "agent/resolver/new_resolver.h"
#include "common/testing/fake_proc_reader.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/test_env.h"

namespace kdbg::agent {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

constexpr char kApp[] = "5dd96d5394ca930a854a390ea46f7515a8bc930123eb3251ba20f2708a38fc61";

using gobinary::GoBinaryFacts;
using gobinary::testing::FakeInspector;
using gobinary::testing::GoFacts;

struct Env {
  std::shared_ptr<FakeInspector> binaries = std::make_shared<FakeInspector>();
  std::unique_ptr<Resolver> resolver;
};

Env Make(const std::string& tree) {
  Env env;
  env.binaries->Set("/hello-world", GoFacts());
  env.binaries->Set("/app/server", GoFacts());
  env.binaries->Set("/sidecar", GoFacts());
  ResolverOptions o;
  std::string root = kdbg::testing::SourceDir() + "/agent/resolver/testdata/trees/" + tree;
  o.proc_root = root + "/proc";
  o.host_root = root + "/host";
  o.node_name = "node-a";
  o.binary_inspector = env.binaries;
  // A stand-in for the bundled Delves' check (agent/delve/delve_versions.h, tested there).
  o.check_go_version = [](const std::string& go_version) {
    GoVersionCheck c;
    c.delve_version = "9.9.9";
    c.supported_go = "Go 1.19-1.21";
    c.supported = go_version.rfind("go1.19", 0) == 0;
    if (!c.supported) c.problem = "built with " + go_version + ", outside Go 1.19-1.21";
    return c;
  };
  env.resolver = NewResolver(std::move(o));
  return env;
}

absl::StatusOr<kdbg::v1::ResolvedTarget> ResolveId(Env& env, const std::string& id) {
  kdbg::v1::TargetRef ref;
  ref.set_container_id(id);
  return env.resolver->Resolve(ref);
}

TEST(Resolver, ContainerdCgroupfsV1HybridPodShim) {
  Env env = Make("containerd-cgroupfs-v1");
  auto t = ResolveId(env, std::string("containerd://") + kApp);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->host_pid(), 4242);
  EXPECT_EQ(t->container_id(), kApp);
  EXPECT_EQ(t->runtime(), "containerd");
  EXPECT_EQ(t->start_time_ticks(), 600u);
  EXPECT_EQ(t->container_pid_namespace_pid(), 1);
  EXPECT_EQ(t->node_name(), "node-a");
  EXPECT_TRUE(t->debuggable()) << t->problem();
  EXPECT_EQ(t->binary().path(), "/hello-world");
  std::string ev = absl::StrJoin(t->evidence(), "\n");
  EXPECT_THAT(
      ev,
      HasSubstr(
          "cgroup: 1 of 6 processes name container 5dd96d5394ca (layout cgroupfs, pod a36d0c1d"));
  EXPECT_THAT(ev, HasSubstr("init.pid -> init pid 4242 (agrees with cgroup)"));
  EXPECT_THAT(ev, HasSubstr("state.json -> init pid 4242, start time 600 matches"));
  EXPECT_THAT(
      ev,
      HasSubstr(
          "shim: parent 4200 is containerd-shim-runc-v2 -id 1f0c7b4a2d1e (a pod sandbox's shim"));
  EXPECT_THAT(ev, HasSubstr("target: the init is a Go program (go1.19.8)"));
  // The pod's sandbox container holds only pause.
  auto sandbox = ResolveId(env, "1f0c7b4a2d1e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f708192a3b4c5d6");
  EXPECT_EQ(sandbox.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(sandbox.status().message(), HasSubstr("only pause"));
  // Verify: same process passes; a changed start time (PID reuse) does not.
  EXPECT_TRUE(env.resolver->Verify(*t).ok());
  kdbg::v1::ResolvedTarget reused = *t;
  reused.set_start_time_ticks(599);
  EXPECT_EQ(env.resolver->Verify(reused).code(), absl::StatusCode::kFailedPrecondition);
  reused.set_host_pid(31337);
  EXPECT_EQ(env.resolver->Verify(reused).code(), absl::StatusCode::kNotFound);
}

TEST(Resolver, CrioSystemdV2ConmonAndTini) {
  Env env = Make("crio-systemd-v2-tini");
  auto t = ResolveId(env, std::string("cri-o://") + kApp);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->host_pid(), 3011);
  EXPECT_EQ(t->runtime(), "cri-o");
  EXPECT_EQ(t->container_pid_namespace_pid(), 7);
  EXPECT_TRUE(t->debuggable()) << t->problem();
  std::string ev = absl::StrJoin(t->evidence(), "\n");
  EXPECT_THAT(ev, HasSubstr("monitor (conmon) pids 3000"));
  EXPECT_THAT(ev, HasSubstr("crun: run/crun/" + std::string(kApp) +
                            "/status -> init pid 3010, start time 410 matches"));
  EXPECT_THAT(ev, HasSubstr("conmon.pid -> monitor pid 3000"));
  EXPECT_THAT(ev, HasSubstr("monitor: parent 3000 is conmon"));
  EXPECT_THAT(ev, HasSubstr("init: 3010 (/usr/bin/tini -- /app/server)"));
  EXPECT_THAT(ev, HasSubstr("target: the only Go program in the container"));
}

TEST(Resolver, DockerSystemdV1ShellWrapperOldShim) {
  Env env = Make("docker-systemd-v1");
  auto t = ResolveId(env, std::string("docker://") + kApp);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->host_pid(), 2002);
  EXPECT_EQ(t->runtime(), "docker");
  std::string ev = absl::StrJoin(t->evidence(), "\n");
  EXPECT_THAT(ev, HasSubstr("docker: var/lib/docker/containers/" + std::string(kApp) +
                            "/config.v2.json -> init pid 2001"));
  EXPECT_THAT(ev,
              HasSubstr("shim: parent 2000 is docker-containerd-shim and names this container"));
}

TEST(Resolver, KindNestedNode) {
  Env env = Make("kind-nested");
  auto t = ResolveId(env, kApp);  // bare ID: runtime from the layout is unknown, say so
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->host_pid(), 870);
  EXPECT_EQ(t->container_pid_namespace_pid(), 1);
  EXPECT_EQ(t->runtime(), "unknown");
  EXPECT_THAT(absl::StrJoin(t->evidence(), "\n"),
              HasSubstr("init: 870 (/hello-world), pid 1 in its namespace"));
  // The kind node's own ID names every process inside the node container (its init is the
  // node's containerd here); the shim is never a target.
  auto node = ResolveId(env, "93529524695bb00d91c1f6dba692ea8d3550c3b94fb2463af7bc9ec82f992d26");
  ASSERT_TRUE(node.ok()) << node.status();
  std::string ev = absl::StrJoin(node->evidence(), "\n");
  EXPECT_THAT(ev, HasSubstr("init: 800 (/usr/local/bin/containerd)"));
  EXPECT_THAT(ev, HasSubstr("850 (/usr/bin/containerd-shim-runc-v2"));
}

TEST(Resolver, PrivateCgroupNamespaceFallsBackToStateFiles) {
  Env env = Make("private-cgroupns");
  auto t = ResolveId(env, std::string("containerd://") + kApp);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->host_pid(),
            4243);  // /hello-world behind the shell; 5000 shares "0::/" but is no descendant
  std::string ev = absl::StrJoin(t->evidence(), "\n");
  EXPECT_THAT(ev, HasSubstr("none of 5 processes"));
  EXPECT_THAT(ev,
              HasSubstr("using init 4242 and its descendants in the same cgroup: pids 4242,4243"));
}

TEST(Resolver, ReusedPidIsNeverChosen) {
  Env env = Make("pid-reused");
  auto t = ResolveId(env, std::string("containerd://") + kApp);
  EXPECT_EQ(t.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(t.status().message(), HasSubstr("no process of container " + std::string(kApp)));
}

TEST(Resolver, TwoGoProgramsAreListed) {
  Env env = Make("two-go-colon");
  auto t = ResolveId(env, std::string("containerd://") + kApp);
  ASSERT_EQ(t.status().code(), absl::StatusCode::kFailedPrecondition) << t.status();
  EXPECT_THAT(std::string(t.status().message()),
              AllOf(HasSubstr("runs 2 Go programs"), HasSubstr("4250 (/hello-world)"),
                    HasSubstr("4251 (/sidecar)")));
  // By host PID, either one resolves.
  kdbg::v1::TargetRef ref;
  ref.set_host_pid(4251);
  auto p = env.resolver->Resolve(ref);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->container_id(), kApp);
  EXPECT_EQ(p->runtime(), "containerd");
  EXPECT_TRUE(p->debuggable());
}

// One machine, two kubelets: the agent (a pod of node-a) resolves node-a's container and refuses
// node-b's, by container ID and by PID, naming both cgroups.
TEST(Resolver, OnlyThisNodesPods) {
  Env env = Make("two-kubelets");
  auto a = ResolveId(env, std::string("containerd://") + kApp);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->host_pid(), 4242);
  EXPECT_THAT(absl::StrJoin(a->evidence(), "\n"),
              HasSubstr("node: below this node's pod cgroups /kdbg-node-a/kubepods"));
  constexpr char kOther[] = "d6d725b909f37c3e232aadfbafa950a58bfe7baa579ba8c47a12be88bb921607";
  auto b = ResolveId(env, std::string("containerd://") + kOther);
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(b.status().message(),
              HasSubstr("container d6d725b909f3 is not on this node (node-a): process 4342 is in "
                        "cgroup /kdbg-node-b/kubepods/besteffort/pod"));
  EXPECT_THAT(b.status().message(),
              HasSubstr("outside this node's pod cgroups /kdbg-node-a/kubepods"));
  kdbg::v1::TargetRef ref;
  ref.set_host_pid(4342);
  auto p = env.resolver->Resolve(ref);
  ASSERT_FALSE(p.ok());
  EXPECT_THAT(p.status().message(), HasSubstr("process 4342 is not on this node"));
  ref.set_host_pid(4242);
  EXPECT_TRUE(env.resolver->Resolve(ref).ok());
}

// What the agent's readiness reports (agent/service/engine.h): nothing on the node can be traced.
TEST(Resolver, NodePtraceProblem) {
  kdbg::testing::FakeProcReader proc;
  // The agent's CapEff as the shipped DaemonSet grants it (SYS_PTRACE is bit 19), no Yama.
  proc.files["self/status"] = "Name:\tkdbg-agent\nCapEff:\t00000000a80c25fb\n";
  EXPECT_EQ(NodePtraceProblem(proc), "");
  proc.files["sys/kernel/yama/ptrace_scope"] = "1\n";
  EXPECT_EQ(NodePtraceProblem(proc), "");
  proc.files["self/status"] = "CapEff:\t00000000a80425fb\n";  // the runtime's defaults
  EXPECT_EQ(NodePtraceProblem(proc),
            "the agent lacks CAP_SYS_PTRACE and kernel.yama.ptrace_scope=1 requires it: add "
            "SYS_PTRACE to the agent's securityContext.capabilities.add");
  proc.files["sys/kernel/yama/ptrace_scope"] = "3\n";
  EXPECT_THAT(NodePtraceProblem(proc), HasSubstr("kernel.yama.ptrace_scope=3"));
}

TEST(Resolver, Preconditions) {
  struct Case {
    const char* tree;
    const char* problem;
  } cases[] = {
      {"traced", "already traced by 4100 (dlv attach 4242 --headless)"},
      {"zombie", "zombie"},
      {"yama3", "ptrace_scope=3"},
      {"nocap", "lacks CAP_SYS_PTRACE and kernel.yama.ptrace_scope=2 requires it"},
      {"otheruid",
       "process 4242 runs as UID 65532 and the agent (UID 0) lacks CAP_DAC_READ_SEARCH and "
       "CAP_KILL, which Delve needs"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.tree);
    Env env = Make(c.tree);
    auto t = ResolveId(env, std::string("containerd://") + kApp);
    ASSERT_TRUE(t.ok()) << t.status();
    EXPECT_EQ(t->host_pid(), 4242);
    EXPECT_FALSE(t->debuggable());
    EXPECT_THAT(t->problem(), HasSubstr(c.problem));
  }
  {
    // The same target with the capabilities the shipped DaemonSet grants.
    Env caps = Make("otheruid-caps");
    auto t = ResolveId(caps, std::string("containerd://") + kApp);
    ASSERT_TRUE(t.ok()) << t.status();
    EXPECT_TRUE(t->debuggable()) << t->problem();
  }
  Env env = Make("gvisor");
  auto g = ResolveId(env, std::string("containerd://") + kApp);
  EXPECT_EQ(g.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(g.status().message(), HasSubstr("containerd-shim-runsc-v1"));
}

TEST(Resolver, BinaryPreconditions) {
  struct Case {
    GoBinaryFacts bin;
    const char* problem;
  } cases[] = {
      {GoBinaryFacts(), "is not a Go program"},
      {GoFacts(/*dwarf=*/false), "has no debug information"},
      {GoFacts(true, "go1.22.1"), "built with go1.22.1, outside Go 1.19-1.21"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.problem);
    Env env = Make("containerd-cgroupfs-v1");
    env.binaries->Set("/hello-world", c.bin);
    auto t = ResolveId(env, kApp);
    ASSERT_TRUE(t.ok()) << t.status();
    EXPECT_EQ(t->host_pid(), 4242);
    EXPECT_FALSE(t->debuggable());
    EXPECT_THAT(t->problem(), HasSubstr(c.problem));
  }
}

TEST(Resolver, GoVersionBesideTheBundledDelvesRange) {
  Env env = Make("containerd-cgroupfs-v1");
  auto ok = ResolveId(env, kApp);
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_TRUE(ok->go_supported());
  EXPECT_EQ(ok->delve_version(), "9.9.9");
  EXPECT_EQ(ok->supported_go(), "Go 1.19-1.21");
  EXPECT_EQ(ok->go_support_problem(), "");
  // Outside the range: not debuggable, and the problem is the Go version alone (the one problem
  // --allow-unsupported-go may override).
  env.binaries->Set("/hello-world", GoFacts(true, "go1.26.8"));
  auto out = ResolveId(env, kApp);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_FALSE(out->go_supported());
  EXPECT_FALSE(out->debuggable());
  EXPECT_EQ(out->problem(), "built with go1.26.8, outside Go 1.19-1.21");
  EXPECT_EQ(out->problem(), out->go_support_problem());
  // Another problem first: it is the one reported, so the override cannot skip it.
  env.binaries->Set("/hello-world", GoFacts(/*dwarf=*/false, "go1.26.8"));
  auto both = ResolveId(env, kApp);
  ASSERT_TRUE(both.ok()) << both.status();
  EXPECT_FALSE(both->debuggable());
  EXPECT_NE(both->problem(), both->go_support_problem());
}

TEST(Resolver, ContainerStillStartingIsRetryableNeverATarget) {
  // runc's own init is a Go program: before its exec it must not pass for the container's.
  Env env = Make("runc-init-starting");
  env.binaries->Set("/usr/bin/runc", GoFacts());
  auto t = ResolveId(env, kApp);
  EXPECT_EQ(t.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(t.status().message(), HasSubstr("is still starting"));
  EXPECT_THAT(t.status().message(), HasSubstr("4242 (runc init)"));
}

TEST(Resolver, BadInput) {
  Env env = Make("containerd-cgroupfs-v1");
  EXPECT_EQ(ResolveId(env, "containerd://not-hex").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ResolveId(env, "").status().code(), absl::StatusCode::kInvalidArgument);
  auto missing = ResolveId(env, "containerd://" + std::string(64, 'a'));
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr("searched the cgroup lines of 6 processes"));
}

}  // namespace
}  // namespace kdbg::agent
