// The resolver on real containers: a private containerd, runc, the Go targets from the build, and
// Kubernetes-like cgroup paths. Each case starts its own containers and removes them.
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "agent/resolver/new_resolver.h"
#include "common/child_process.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/support/containerd/containerd_fixture.h"
#include "tests/support/proc_probe.h"
#include "tests/support/test_env.h"

namespace kdbg::agent {
namespace {

using ::kdbg::testing::ContainerdFixture;
using ::kdbg::testing::ContainerSpec;
using ::kdbg::testing::TargetPath;
using ::testing::HasSubstr;

class ResolverContainerdTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!ContainerdFixture::Available()) return;
    auto f = ContainerdFixture::Start();
    if (f.ok()) {
      fixture_ = std::move(*f);
    } else {
      start_error_ = std::string(f.status().message());
    }
  }
  static void TearDownTestSuite() { fixture_.reset(); }

  void SetUp() override {
    KDBG_REQUIRE_REAL(ContainerdFixture::Available(), "root, containerd, ctr and runc");
    ASSERT_NE(fixture_, nullptr) << start_error_;
    ResolverOptions o;
    o.node_name = "node-a";
    o.containerd_state_dirs = {fixture_->state_dir()};
    resolver_ = NewResolver(o);
  }

  // Runs `target` (a built program) as a container's init, or behind `sh -c` when `shell`.
  pid_t RunTarget(const std::string& id, const std::string& pod, const std::string& target,
                  bool shell = false) {
    ContainerSpec spec;
    spec.id = id;
    spec.pod_uid = pod;
    spec.files = {{TargetPath(target), "/" + target}};
    // The containers share the host's network and nothing here connects to them: port 0 lets the
    // kernel pick, where a port picked in advance could be taken meanwhile (the target would then
    // exit at once and the container vanish under the test).
    spec.env = {"HELLO_ADDR=127.0.0.1:0"};
    if (shell) {
      spec.files.push_back({"/bin/busybox", "/bin/sh"});
      spec.args = {"/bin/sh", "-c", absl::StrCat("/", target, "; echo exited")};
    } else {
      spec.args = {"/" + target};
    }
    auto pid = fixture_->Run(spec);
    EXPECT_TRUE(pid.ok()) << pid.status();
    return pid.ok() ? *pid : 0;
  }

  absl::StatusOr<kdbg::v1::ResolvedTarget> Resolve(const std::string& id) {
    kdbg::v1::TargetRef ref;
    ref.set_container_id("containerd://" + id);
    // A container still starting is Unavailable (its init is still `runc init`) and a shell
    // wrapper forks its child just after start: retry those, as a caller would, for up to 10 s.
    absl::StatusOr<kdbg::v1::ResolvedTarget> t;
    for (int i = 0; i < 100; ++i) {
      t = resolver_->Resolve(ref);
      if (t.ok() && !t->binary().go_version().empty()) break;
      if (!t.ok() && !absl::IsNotFound(t.status()) && !absl::IsUnavailable(t.status())) break;
      absl::SleepFor(absl::Milliseconds(100));
    }
    return t;
  }

  static std::unique_ptr<ContainerdFixture> fixture_;
  static std::string start_error_;
  std::unique_ptr<Resolver> resolver_;
};

std::unique_ptr<ContainerdFixture> ResolverContainerdTest::fixture_;
std::string ResolverContainerdTest::start_error_;

TEST_F(ResolverContainerdTest, GoBinaryAsInit) {
  std::string id = ContainerdFixture::NewContainerId(), pod = ContainerdFixture::NewPodUid();
  pid_t init = RunTarget(id, pod, "hello-world");
  ASSERT_GT(init, 0);
  auto t = Resolve(id);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->host_pid(), init);
  EXPECT_EQ(t->container_id(), id);
  EXPECT_EQ(t->runtime(), "containerd");
  EXPECT_EQ(t->container_pid_namespace_pid(), 1);
  EXPECT_TRUE(t->debuggable()) << t->problem();
  EXPECT_EQ(t->binary().path(), "/hello-world");
  EXPECT_EQ(t->binary().go_version().substr(0, 6), "go1.26");
  EXPECT_TRUE(t->binary().has_dwarf());
  EXPECT_TRUE(t->binary().optimized());  // built as production builds it (-N -l: binary_info_test)
  std::string ev = absl::StrJoin(t->evidence(), "\n");
  EXPECT_THAT(ev, HasSubstr(absl::StrCat("cgroup: 1 of ")));
  EXPECT_THAT(ev, HasSubstr("pod " + pod));
  EXPECT_THAT(ev, HasSubstr(absl::StrCat("init.pid -> init pid ", init, " (agrees with cgroup)")));
  EXPECT_THAT(ev, HasSubstr(absl::StrCat("state.json -> init pid ", init, ", start time ")));
  EXPECT_THAT(ev, HasSubstr("is containerd-shim-runc-v2 and names this container"));
  EXPECT_TRUE(resolver_->Verify(*t).ok());

  // The command-line contract, as the end-to-end checks read it.
  auto out =
      RunCommand({kdbg::testing::BinaryDir() + "/agent/kdbg-agent", "resolve", "--container-id",
                  "containerd://" + id, "--containerd-state", fixture_->state_dir(), "-o", "json"},
                 absl::Seconds(30), /*merge_stderr=*/false);
  ASSERT_TRUE(out.ok()) << out.status();
  nlohmann::json j = nlohmann::json::parse(*out);
  EXPECT_EQ(j["host_pid"], init);
  EXPECT_EQ(j["container_id"], id);
  EXPECT_EQ(j["runtime"], "containerd");
  EXPECT_TRUE(j["evidence"].is_array());
  EXPECT_EQ(j["binary"]["path"], "/hello-world");
  EXPECT_EQ(j["binary"]["has_dwarf"], true);
  EXPECT_EQ(j["binary"]["optimized"], true);

  ASSERT_TRUE(fixture_->Remove(id).ok());
  EXPECT_EQ(resolver_->Verify(*t).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Resolve(id).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(ResolverContainerdTest, GoBinaryBehindShell) {
  std::string id = ContainerdFixture::NewContainerId(), pod = ContainerdFixture::NewPodUid();
  pid_t init = RunTarget(id, pod, "hello-world", /*shell=*/true);
  ASSERT_GT(init, 0);
  auto t = Resolve(id);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_NE(t->host_pid(), init);
  EXPECT_TRUE(t->debuggable()) << t->problem();
  EXPECT_EQ(t->binary().path(), "/hello-world");
  EXPECT_GT(t->container_pid_namespace_pid(), 1);
  auto child = kdbg::testing::ReadProcStatus(t->host_pid());
  ASSERT_TRUE(child.ok());
  std::string ev = absl::StrJoin(t->evidence(), "\n");
  EXPECT_THAT(ev,
              HasSubstr(absl::StrCat("init: ", init, " (/bin/sh -c /hello-world; echo exited)")));
  EXPECT_THAT(ev, HasSubstr("target: the only Go program in the container"));
  ASSERT_TRUE(fixture_->Remove(id).ok());
}

TEST_F(ResolverContainerdTest, TwoContainersOfOnePod) {
  std::string pod = ContainerdFixture::NewPodUid();
  std::string a = ContainerdFixture::NewContainerId(), b = ContainerdFixture::NewContainerId();
  pid_t pa = RunTarget(a, pod, "hello-world");
  pid_t pb = RunTarget(b, pod, "sidecar");
  ASSERT_GT(pa, 0);
  ASSERT_GT(pb, 0);
  auto ta = Resolve(a);
  auto tb = Resolve(b);
  ASSERT_TRUE(ta.ok()) << ta.status();
  ASSERT_TRUE(tb.ok()) << tb.status();
  EXPECT_EQ(ta->host_pid(), pa);
  EXPECT_EQ(tb->host_pid(), pb);
  EXPECT_EQ(ta->binary().path(), "/hello-world");
  EXPECT_EQ(tb->binary().path(), "/sidecar");
  EXPECT_THAT(absl::StrJoin(tb->evidence(), "\n"), HasSubstr("pod " + pod));
  ASSERT_TRUE(fixture_->Remove(a).ok());
  ASSERT_TRUE(fixture_->Remove(b).ok());
}

TEST_F(ResolverContainerdTest, NonGoContainer) {
  std::string id = ContainerdFixture::NewContainerId();
  pid_t init = RunTarget(id, ContainerdFixture::NewPodUid(), "not-go");
  ASSERT_GT(init, 0);
  auto t = Resolve(id);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->host_pid(), init);
  EXPECT_FALSE(t->debuggable());
  EXPECT_THAT(t->problem(), HasSubstr("is not a Go program"));
  auto out = RunCommand({kdbg::testing::BinaryDir() + "/agent/kdbg-agent", "resolve",
                         "--container-id", id, "--containerd-state", fixture_->state_dir()});
  EXPECT_FALSE(out.ok());  // exits non-zero with the reason
  EXPECT_THAT(std::string(out.status().message()), HasSubstr("not a Go program"));
  ASSERT_TRUE(fixture_->Remove(id).ok());
}

TEST_F(ResolverContainerdTest, StrippedGoBinary) {
  std::string id = ContainerdFixture::NewContainerId();
  pid_t init = RunTarget(id, ContainerdFixture::NewPodUid(), "hello-world-stripped");
  ASSERT_GT(init, 0);
  auto t = Resolve(id);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->host_pid(), init);
  EXPECT_FALSE(t->debuggable());
  EXPECT_TRUE(t->binary().stripped());
  EXPECT_FALSE(t->binary().has_dwarf());
  EXPECT_FALSE(t->binary().build_id().empty());
  EXPECT_TRUE(t->needs_debug_binary());
  EXPECT_THAT(t->problem(),
              HasSubstr(absl::StrCat("has no debug information (stripped, -ldflags='-s -w'); its "
                                     "Go build ID is ",
                                     t->binary().build_id(),
                                     ": pass the unstripped binary of the same build with "
                                     "--debug-binary FILE")));
  ASSERT_TRUE(fixture_->Remove(id).ok());
}

TEST_F(ResolverContainerdTest, OptimisedGoBinary) {
  std::string id = ContainerdFixture::NewContainerId();
  pid_t init = RunTarget(id, ContainerdFixture::NewPodUid(), "hello-world-optimized");
  ASSERT_GT(init, 0);
  auto t = Resolve(id);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->host_pid(), init);
  EXPECT_TRUE(t->debuggable()) << t->problem();
  EXPECT_TRUE(t->binary().optimized());
  EXPECT_TRUE(t->binary().has_dwarf());
  EXPECT_THAT(absl::StrJoin(t->evidence(), "\n"), HasSubstr("note: optimised build"));
  ASSERT_TRUE(fixture_->Remove(id).ok());
}

}  // namespace
}  // namespace kdbg::agent
