// The liveness probes of the real pods in kube/testdata/pods and the stop budget they give.
#include "kube/probes.h"

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

TEST(ProbesTest, HttpGetProbeOfARealPod) {
  // "livenessProbe": {"failureThreshold": 3, "httpGet": {"path": "/info", "port": "http", ...},
  // "periodSeconds": 10, "successThreshold": 1, "timeoutSeconds": 1}
  Pod pod = RealPod("docker-calico-annotations.json");
  const ContainerSpec& c = pod.containers.at(0);
  ASSERT_TRUE(c.liveness_probe.has_value());
  EXPECT_EQ(c.liveness_probe->handler, "httpGet :http/info");
  EXPECT_EQ(c.liveness_probe->period_seconds, 10);
  EXPECT_EQ(c.liveness_probe->timeout_seconds, 1);
  EXPECT_EQ(c.liveness_probe->failure_threshold, 3);
  StopBudget b = StopBudgetOf(pod, c.name, 50);
  EXPECT_TRUE(b.has_liveness_probe);
  EXPECT_EQ(b.budget, absl::Seconds(21));  // (3 - 1) * 10s + 1s
  EXPECT_EQ(b.max_stop, absl::Milliseconds(10500));
  EXPECT_EQ(b.summary,
            "liveness probe httpGet :http/info every 10s, timeout 1s, failure threshold 3: the "
            "kubelet restarts the container after a stop of 21s; kdbg resumes a stop after 10.5s "
            "(50%)");
}

TEST(ProbesTest, ExecAndNumericPortProbesAndAContainerWithout) {
  Pod pod = RealPod("containerd-aks-ama-logs-daemonset-3-containers.json");
  ASSERT_GE(pod.containers.size(), 3u);
  StopBudget adapter = StopBudgetOf(pod, "addon-token-adapter", 25);
  EXPECT_EQ(adapter.probe, "httpGet :9999/healthz every 60s, timeout 1s, failure threshold 3");
  EXPECT_EQ(adapter.budget, absl::Seconds(121));
  EXPECT_EQ(adapter.max_stop, absl::Milliseconds(30250));
  StopBudget logs = StopBudgetOf(pod, "ama-logs", 50);
  EXPECT_THAT(logs.probe, HasSubstr("exec /bin/bash -c /opt/livenessprobe.sh every 60s, timeout "
                                    "15s, failure threshold 3"));
  EXPECT_EQ(logs.budget, absl::Seconds(135));
  StopBudget none = StopBudgetOf(pod, "no-such-container", 50);
  EXPECT_FALSE(none.has_liveness_probe);
  EXPECT_EQ(none.max_stop, absl::ZeroDuration());
  EXPECT_THAT(none.summary, HasSubstr("no liveness probe"));
}

TEST(ProbesTest, DefaultsForOmittedFieldsAndTheShareIsClamped) {
  auto pod = ParsePod(R"({"metadata":{"name":"p","namespace":"d"},"spec":{"containers":[
      {"name":"a","livenessProbe":{"tcpSocket":{"port":8080}}},
      {"name":"b","livenessProbe":{"grpc":{"port":9090},"periodSeconds":null,
       "failureThreshold":-4}}]}})");
  ASSERT_TRUE(pod.ok()) << pod.status();
  StopBudget a = StopBudgetOf(*pod, "a", 500);
  EXPECT_EQ(a.probe, "tcpSocket :8080 every 10s, timeout 1s, failure threshold 3");
  EXPECT_EQ(a.share_percent, 100);
  EXPECT_EQ(a.max_stop, a.budget);
  StopBudget b = StopBudgetOf(*pod, "b", 0);
  EXPECT_EQ(b.probe, "grpc :9090 every 10s, timeout 1s, failure threshold 3");
  EXPECT_EQ(b.share_percent, 1);
  EXPECT_EQ(b.max_stop, absl::Milliseconds(210));
}

}  // namespace
}  // namespace kdbg::kube
