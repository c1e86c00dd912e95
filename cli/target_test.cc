#include "cli/target.h"

#include <fstream>
#include <sstream>

#include "gtest/gtest.h"
#include "tests/support/test_env.h"

namespace kdbg::cli {
namespace {

kube::Pod RunningPod() {
  kube::Pod p;
  p.namespace_ = "default";
  p.name = "web-0";
  p.phase = "Running";
  p.containers = {{"app", "img"}, {"sidecar", "img2"}};
  p.container_statuses = {{"app", "containerd://aa", "running", "", true, 0},
                          {"sidecar", "containerd://bb", "running", "", true, 0}};
  return p;
}

TEST(TargetTest, ParseTarget) {
  EXPECT_EQ(*ParseTarget("pod/hello-world"), "hello-world");
  EXPECT_EQ(*ParseTarget("pods/hello-world"), "hello-world");
  EXPECT_EQ(*ParseTarget("hello-world"), "hello-world");
  EXPECT_EQ(ParseTarget("deployment/web").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseTarget("pod/").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseTarget("Web_1").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(TargetTest, ContainerChoice) {
  kube::Pod p = RunningPod();
  EXPECT_EQ(*SelectContainer(p, ""), "app");
  EXPECT_EQ(*SelectContainer(p, "sidecar"), "sidecar");
  p.annotations["kubectl.kubernetes.io/default-container"] = "sidecar";
  EXPECT_EQ(*SelectContainer(p, ""), "sidecar");
  EXPECT_EQ(*SelectContainer(p, "app"), "app");
  auto unknown = SelectContainer(p, "nginx");
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(unknown.status().message().find("its containers are: app, sidecar"), std::string::npos)
      << unknown.status();
}

TEST(TargetTest, NotRunning) {
  kube::Pod p = RunningPod();
  p.phase = "Pending";
  auto s = SelectContainer(p, "");
  EXPECT_EQ(s.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(s.status().message().find("is Pending"), std::string::npos);
  p = RunningPod();
  p.container_statuses[0].state = "waiting";
  p.container_statuses[0].state_reason = "CrashLoopBackOff";
  s = SelectContainer(p, "");
  EXPECT_EQ(s.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(s.status().message().find("is waiting (CrashLoopBackOff)"), std::string::npos)
      << s.status();
  p.container_statuses[1].state = "terminated";
  p.container_statuses[1].state_reason = "Error";
  s = SelectContainer(p, "sidecar");
  EXPECT_NE(s.status().message().find("is terminated (Error)"), std::string::npos) << s.status();
}

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Real pod objects, parsed by the kube library.
TEST(TargetTest, RealPods) {
  std::string dir = kdbg::testing::TestdataDir("kube") + "/pods/";
  auto pending =
      kube::ParsePod(Slurp(dir + "crio-openshift-init-crashloopbackoff-podinitializing.json"));
  ASSERT_TRUE(pending.ok()) << pending.status();
  auto s = SelectContainer(*pending, "");
  EXPECT_EQ(s.status().code(), absl::StatusCode::kFailedPrecondition) << s.status();

  auto failed = kube::ParsePod(Slurp(dir + "crio-openshift-job-failed-terminated-error.json"));
  ASSERT_TRUE(failed.ok()) << failed.status();
  EXPECT_EQ(SelectContainer(*failed, "").status().code(), absl::StatusCode::kFailedPrecondition);

  auto many = kube::ParsePod(Slurp(dir + "crio-openshift-prometheus-7-containers.json"));
  ASSERT_TRUE(many.ok()) << many.status();
  auto first = SelectContainer(*many, "");
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(*first, many->containers.front().name);
  auto bad = SelectContainer(*many, "nope");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kNotFound);
  for (const auto& c : many->containers) {
    EXPECT_NE(bad.status().message().find(c.name), std::string::npos) << c.name;
  }
}

}  // namespace
}  // namespace kdbg::cli
