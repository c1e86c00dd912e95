// SelectContainer on the real pods in kube/testdata/pods, and on small built pods for the states
// the fixtures do not show.
#include "kube/containers.h"

#include <fstream>
#include <sstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/test_env.h"

namespace kdbg::kube {
namespace {

using ::testing::HasSubstr;

Pod RealPod(const std::string& file) {
  std::ifstream in(kdbg::testing::TestdataDir("kube") + "/pods/" + file);
  std::stringstream ss;
  ss << in.rdbuf();
  auto pod = ParsePod(ss.str());
  EXPECT_TRUE(pod.ok()) << file << ": " << pod.status();
  return pod.ok() ? *pod : Pod();
}

Pod RunningPod() {
  Pod p;
  p.namespace_ = "default";
  p.name = "web-0";
  p.node_name = "node-a";
  p.phase = "Running";
  p.containers = {{"app", "img"}, {"sidecar", "img2"}};
  p.container_statuses = {{"app", "containerd://aa", "running", "", true, 0},
                          {"sidecar", "containerd://bb", "running", "", true, 0}};
  return p;
}

TEST(SelectContainerTest, ExplicitThenAnnotationThenFirst) {
  Pod pod = RealPod("crio-openshift-prometheus-7-containers.json");
  auto first = SelectContainer(pod, "");
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->name, "prometheus");
  EXPECT_EQ(first->kind, ContainerKind::kApp);
  EXPECT_EQ(first->container_id, pod.StatusOf("prometheus")->container_id);
  EXPECT_EQ(SelectContainer(pod, "thanos-sidecar")->name, "thanos-sidecar");

  pod.annotations["kubectl.kubernetes.io/default-container"] = "config-reloader";
  EXPECT_EQ(SelectContainer(pod, "")->name, "config-reloader");
  // An explicit name wins over the annotation.
  EXPECT_EQ(SelectContainer(pod, "kube-rbac-proxy")->name, "kube-rbac-proxy");

  auto missing = SelectContainer(pod, "nginx");
  ASSERT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr("container \"nginx\" not found"));
  EXPECT_THAT(missing.status().message(), HasSubstr("prometheus, config-reloader, thanos-sidecar"));
  EXPECT_THAT(missing.status().message(), HasSubstr("(choose one with -c NAME)"));
  for (const auto& c : pod.containers) {
    EXPECT_THAT(missing.status().message(), HasSubstr(c.name));
  }
}

TEST(SelectContainerTest, AnnotationNamingAMissingContainerIsNotFound) {
  Pod pod = RealPod("docker-minikube-simple.json");
  EXPECT_EQ(SelectContainer(pod, "")->name, "myapp");
  pod.annotations["kubectl.kubernetes.io/default-container"] = "gone";
  EXPECT_EQ(SelectContainer(pod, "").status().code(), absl::StatusCode::kNotFound);
}

TEST(SelectContainerTest, NativeSidecarIsDebuggableByName) {
  Pod pod = RealPod("containerd-kind-native-sidecar-and-init.json");
  auto app = SelectContainer(pod, "");
  ASSERT_TRUE(app.ok()) << app.status();
  EXPECT_EQ(app->name, "sleep");  // the default is never an init container
  auto sidecar = SelectContainer(pod, "sidecar");
  ASSERT_TRUE(sidecar.ok()) << sidecar.status();
  EXPECT_EQ(sidecar->kind, ContainerKind::kNativeSidecar);
  EXPECT_EQ(sidecar->container_id, pod.StatusOf("sidecar")->container_id);
  EXPECT_THAT(sidecar->container_id, HasSubstr("containerd://"));
  // The annotation may name the sidecar too (it is as explicit as -c).
  pod.annotations["kubectl.kubernetes.io/default-container"] = "sidecar";
  EXPECT_EQ(SelectContainer(pod, "")->kind, ContainerKind::kNativeSidecar);
}

TEST(SelectContainerTest, FinishedInitContainerIsRefusedWithTheChoices) {
  Pod pod = RealPod("containerd-kind-native-sidecar-and-init.json");
  absl::Status s = SelectContainer(pod, "init").status();
  EXPECT_TRUE(absl::IsFailedPrecondition(s)) << s;
  EXPECT_THAT(s.message(), HasSubstr("init container \"init\""));
  EXPECT_THAT(s.message(), HasSubstr("has finished (Completed)"));
  EXPECT_THAT(s.message(), HasSubstr("sleep, init (init), sidecar (sidecar)"));

  Pod etcd = RealPod("crio-openshift-etcd-static-pod-3-containers-2-init.json");
  EXPECT_TRUE(absl::IsFailedPrecondition(SelectContainer(etcd, "etcd-resources-copy").status()));
  EXPECT_EQ(SelectContainer(etcd, "etcd")->kind, ContainerKind::kApp);
  Pod proxy = RealPod("containerd-aks-kube-proxy-hostnetwork-init-container.json");
  EXPECT_TRUE(absl::IsFailedPrecondition(SelectContainer(proxy, "kube-proxy-bootstrap").status()));
  EXPECT_EQ(SelectContainer(proxy, "")->name, "kube-proxy");
}

TEST(SelectContainerTest, RunningInitContainerIsDebuggable) {
  Pod pod = RunningPod();
  pod.phase = "Pending";
  pod.init_containers = {{"migrate", "img3"}};
  pod.init_container_statuses = {{"migrate", "containerd://cc", "running", "", false, 0}};
  pod.container_statuses = {{"app", "", "waiting", "PodInitializing", false, 0}};
  auto init = SelectContainer(pod, "migrate");
  ASSERT_TRUE(init.ok()) << init.status();
  EXPECT_EQ(init->kind, ContainerKind::kInit);
  EXPECT_EQ(init->container_id, "containerd://cc");
}

TEST(SelectContainerTest, CrashLoopingInitAndPodInitializing) {
  Pod pod = RealPod("crio-openshift-init-crashloopbackoff-podinitializing.json");
  absl::Status s = SelectContainer(pod, "").status();
  EXPECT_TRUE(absl::IsFailedPrecondition(s)) << s;
  EXPECT_THAT(s.message(), HasSubstr("is Pending"));
  EXPECT_THAT(s.message(), HasSubstr("container \"vsystem\""));
  EXPECT_THAT(s.message(), HasSubstr("is waiting (PodInitializing)"));
  s = SelectContainer(pod, "vsystem-hana-init").status();
  EXPECT_TRUE(absl::IsFailedPrecondition(s)) << s;
  EXPECT_THAT(s.message(), HasSubstr("is waiting (CrashLoopBackOff)"));
}

TEST(SelectContainerTest, FinishedOrDeletedPods) {
  Pod failed = RealPod("crio-openshift-job-failed-terminated-error.json");
  absl::Status s = SelectContainer(failed, "").status();
  EXPECT_TRUE(absl::IsFailedPrecondition(s));
  EXPECT_THAT(s.message(), HasSubstr("has finished (phase Failed)"));
  Pod deleting = RealPod("docker-gke-node-simple.json");
  ASSERT_TRUE(SelectContainer(deleting, "").ok());
  deleting.deleting = true;
  EXPECT_THAT(SelectContainer(deleting, "").status().message(), HasSubstr("is being deleted"));
}

TEST(SelectContainerTest, EveryRunningRealPodYieldsItsContainerIds) {
  for (const char* file :
       {"containerd-aks-ama-logs-daemonset-3-containers.json", "docker-calico-annotations.json",
        "crio-openshift-etcd-static-pod-3-containers-2-init.json", "docker-minikube-simple.json"}) {
    Pod pod = RealPod(file);
    for (const ContainerSpec& c : pod.containers) {
      auto chosen = SelectContainer(pod, c.name);
      ASSERT_TRUE(chosen.ok()) << file << " " << c.name << ": " << chosen.status();
      EXPECT_EQ(chosen->container_id, pod.StatusOf(c.name)->container_id) << file;
      EXPECT_FALSE(chosen->container_id.empty()) << file;
    }
  }
}

TEST(SelectContainerTest, ContainerStates) {
  Pod p = RunningPod();
  p.container_statuses[0].state = "waiting";
  p.container_statuses[0].state_reason = "CrashLoopBackOff";
  p.container_statuses[0].container_id.clear();
  auto s = SelectContainer(p, "");
  EXPECT_EQ(s.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.status().message(), HasSubstr("is waiting (CrashLoopBackOff)"));
  p.container_statuses[1].state = "terminated";
  p.container_statuses[1].state_reason = "Error";
  s = SelectContainer(p, "sidecar");
  EXPECT_THAT(s.status().message(), HasSubstr("is terminated (Error)"));

  p = RunningPod();
  p.container_statuses.pop_back();
  EXPECT_THAT(SelectContainer(p, "sidecar").status().message(), HasSubstr("has not started yet"));
  p.phase = "Pending";  // just scheduled: no statuses yet
  p.container_statuses.clear();
  EXPECT_THAT(SelectContainer(p, "").status().message(),
              HasSubstr("pod default/web-0 is Pending: container \"app\""));
  p = RunningPod();
  p.container_statuses[0].container_id.clear();
  EXPECT_THAT(SelectContainer(p, "").status().message(), HasSubstr("no container ID yet"));
  p = RunningPod();
  p.node_name.clear();
  p.phase = "Pending";
  EXPECT_THAT(SelectContainer(p, "").status().message(), HasSubstr("not scheduled"));
  p.containers.clear();
  EXPECT_THAT(SelectContainer(p, "").status().message(), HasSubstr("has no containers"));
}

}  // namespace
}  // namespace kdbg::kube
