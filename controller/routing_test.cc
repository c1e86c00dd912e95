#include "controller/routing.h"

#include "controller/testing/pods.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kube/testing/fake_client.h"

namespace kdbg::controller {
namespace {

using testing::AgentPod;
using ::testing::HasSubstr;
using testing::RunningPod;

TEST(TargetForTest, PicksFlagThenAnnotationThenFirst) {
  kube::Pod p = RunningPod("default", "two", "node-a", "sidecar");
  p.containers.push_back({"web", "x"});
  kube::ContainerStatus s = p.container_statuses[0];
  s.name = "web";
  s.container_id = "containerd://" + std::string(64, 'b');
  p.container_statuses.push_back(s);
  EXPECT_EQ(TargetFor(p, "")->container_name(), "sidecar");
  p.annotations["kubectl.kubernetes.io/default-container"] = "web";
  auto ref = TargetFor(p, "");
  ASSERT_TRUE(ref.ok()) << ref.status();
  EXPECT_EQ(ref->container_name(), "web");
  EXPECT_EQ(ref->container_id(), "containerd://" + std::string(64, 'b'));
  EXPECT_EQ(ref->pod_uid(), "uid-two");
  EXPECT_EQ(TargetFor(p, "sidecar")->container_name(), "sidecar");
  absl::Status unknown = TargetFor(p, "db").status();
  EXPECT_TRUE(absl::IsNotFound(unknown));
  EXPECT_THAT(unknown.message(), HasSubstr("sidecar, web"));
}

TEST(TargetForTest, ClearErrorsForPodsThatCannotBeDebugged) {
  kube::Pod p = RunningPod("default", "w", "node-a");
  p.container_statuses[0].state = "waiting";
  p.container_statuses[0].state_reason = "CrashLoopBackOff";
  p.container_statuses[0].container_id.clear();
  absl::Status s = TargetFor(p, "").status();
  EXPECT_TRUE(absl::IsFailedPrecondition(s));
  EXPECT_THAT(s.message(), HasSubstr("CrashLoopBackOff"));

  kube::Pod pending = RunningPod("default", "p", "");
  pending.phase = "Pending";
  EXPECT_THAT(TargetFor(pending, "").status().message(), HasSubstr("not scheduled"));

  kube::Pod done = RunningPod("default", "d", "node-a");
  done.phase = "Succeeded";
  EXPECT_TRUE(absl::IsFailedPrecondition(TargetFor(done, "").status()));
}

class DirectoryTest : public ::testing::Test {
 protected:
  kube::testing::FakeClient kube_;
  AgentDirectory dir_{&kube_, {"kdbg-system", "app.kubernetes.io/name=kdbg-agent", 7443}};
};

TEST_F(DirectoryTest, FindsTheAgentOfTheNode) {
  kube_.AddPod(AgentPod("node-a", "127.0.0.2"));
  kube_.AddPod(AgentPod("node-b", "127.0.0.3"));
  kube_.AddPod(RunningPod("default", "not-an-agent", "node-c"));
  auto a = dir_.ForNode("node-b", nullptr);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->address, "127.0.0.3:7443");
  EXPECT_EQ(a->pod_name, "kdbg-agent-node-b");
  absl::Status none = dir_.ForNode("node-c", nullptr).status();
  EXPECT_TRUE(absl::IsFailedPrecondition(none));
  EXPECT_THAT(none.message(), HasSubstr("node-c"));
}

TEST_F(DirectoryTest, NotReadyAndNotLinux) {
  kube_.AddPod(AgentPod("node-a", "127.0.0.2", "kdbg-system", /*ready=*/false));
  absl::Status s = dir_.ForNode("node-a", nullptr).status();
  EXPECT_TRUE(absl::IsUnavailable(s));
  EXPECT_THAT(s.message(), HasSubstr("not ready"));
  kube::Pod win = RunningPod("default", "iis", "win-1");
  win.node_selector["kubernetes.io/os"] = "windows";
  EXPECT_THAT(dir_.ForNode("win-1", &win).status().message(), HasSubstr("not a Linux node"));
}

TEST_F(DirectoryTest, WatchKeepsTheCacheCurrent) {
  kube_.AddPod(AgentPod("node-a", "127.0.0.2"));
  kube_.set_watch_blocks(true);
  ASSERT_TRUE(dir_.Start().ok());
  EXPECT_EQ(dir_.ReadyAgents().size(), 1u);
  kube_.AddPod(AgentPod("node-b", "127.0.0.3"));
  for (int i = 0; i < 200 && dir_.ReadyAgents().size() < 2; ++i)
    absl::SleepFor(absl::Milliseconds(10));
  EXPECT_EQ(dir_.ReadyAgents().size(), 2u);
  ASSERT_TRUE(kube_.DeletePod("kdbg-system", "kdbg-agent-node-a").ok());
  for (int i = 0; i < 200 && dir_.ReadyAgents().size() > 1; ++i)
    absl::SleepFor(absl::Milliseconds(10));
  ASSERT_EQ(dir_.ReadyAgents().size(), 1u);
  EXPECT_EQ(dir_.ReadyAgents()[0].node_name, "node-b");
  kube_.EndWatches();
  dir_.Stop();
}

TEST_F(DirectoryTest, ApiDownIsUnavailable) {
  kube_.SetPersistentError(kube::testing::FakeClient::Method::kListPods,
                           absl::UnavailableError("dial tcp: connection refused"));
  absl::Status s = dir_.ForNode("node-a", nullptr).status();
  EXPECT_TRUE(absl::IsUnavailable(s));
  EXPECT_THAT(s.message(), HasSubstr("connection refused"));
}

}  // namespace
}  // namespace kdbg::controller
