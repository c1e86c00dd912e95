#include "kube/workloads.h"

#include <fstream>
#include <sstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kube/testing/fake_client.h"
#include "tests/support/test_env.h"

namespace kdbg::kube {
namespace {

std::string Fixture(const std::string& name) {
  std::ifstream in(kdbg::testing::TestdataDir("kube") + "/workloads/" + name);
  std::stringstream ss;
  ss << in.rdbuf();
  EXPECT_FALSE(ss.str().empty()) << name;
  return ss.str();
}

TEST(WorkloadsTest, KindsAsKubectlNamesThem) {
  EXPECT_EQ(ParseWorkloadKind("deploy"), WorkloadKind::kDeployment);
  EXPECT_EQ(ParseWorkloadKind("Deployment"), WorkloadKind::kDeployment);
  EXPECT_EQ(ParseWorkloadKind("deployments"), WorkloadKind::kDeployment);
  EXPECT_EQ(ParseWorkloadKind("sts"), WorkloadKind::kStatefulSet);
  EXPECT_EQ(ParseWorkloadKind("statefulset"), WorkloadKind::kStatefulSet);
  EXPECT_EQ(ParseWorkloadKind("ds"), WorkloadKind::kDaemonSet);
  EXPECT_EQ(ParseWorkloadKind("daemonsets"), WorkloadKind::kDaemonSet);
  EXPECT_EQ(ParseWorkloadKind("rs"), WorkloadKind::kReplicaSet);
  EXPECT_EQ(ParseWorkloadKind("job"), WorkloadKind::kJob);
  EXPECT_EQ(ParseWorkloadKind("pod"), std::nullopt);
  EXPECT_EQ(ParseWorkloadKind("cronjob"), std::nullopt);
  EXPECT_EQ(WorkloadPath(WorkloadKind::kDeployment, "shop", "web"),
            "/apis/apps/v1/namespaces/shop/deployments/web");
  EXPECT_EQ(WorkloadPath(WorkloadKind::kJob, "shop", "reindex"),
            "/apis/batch/v1/namespaces/shop/jobs/reindex");
  EXPECT_EQ(WorkloadKindName(WorkloadKind::kStatefulSet), "statefulset");
}

TEST(WorkloadsTest, ParsesTheSelectorOfEachKind) {
  auto d = ParseWorkload(WorkloadKind::kDeployment, Fixture("deployment-apps-v1-hello-world.json"));
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->name, "hello-world");
  EXPECT_EQ(d->namespace_, "default");
  EXPECT_EQ(d->replicas, 2);
  EXPECT_EQ(d->selector.ToString(), "app=hello-world");

  // The ReplicaSet the Deployment made: its selector adds the template hash.
  auto rs =
      ParseWorkload(WorkloadKind::kReplicaSet, Fixture("replicaset-apps-v1-hello-world.json"));
  ASSERT_TRUE(rs.ok()) << rs.status();
  EXPECT_EQ(rs->name, "hello-world-59786b7d48");
  EXPECT_EQ(rs->replicas, 2);
  EXPECT_EQ(rs->selector.ToString(), "app=hello-world,pod-template-hash=59786b7d48");

  auto s = ParseWorkload(WorkloadKind::kStatefulSet,
                         Fixture("statefulset-apps-v1-ledger-match-expressions.json"));
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->selector.ToString(), "tier=backend,app.kubernetes.io/name in (ledger),!canary");

  auto ds =
      ParseWorkload(WorkloadKind::kDaemonSet, Fixture("daemonset-apps-v1-node-exporter.json"));
  ASSERT_TRUE(ds.ok()) << ds.status();
  EXPECT_EQ(ds->replicas, -1);
  EXPECT_EQ(ds->selector.ToString(),
            "app.kubernetes.io/component=exporter,app.kubernetes.io/name=node-exporter");

  auto j = ParseWorkload(WorkloadKind::kJob, Fixture("job-batch-v1-reindex-controller-uid.json"));
  ASSERT_TRUE(j.ok()) << j.status();
  EXPECT_EQ(j->selector.ToString(),
            "batch.kubernetes.io/controller-uid=983ce0ea-45f6-4d5d-9606-c62b4c2c173b");
}

TEST(WorkloadsTest, RefusesOtherKindsAndEmptySelectors) {
  auto wrong =
      ParseWorkload(WorkloadKind::kStatefulSet, Fixture("deployment-apps-v1-hello-world.json"));
  EXPECT_EQ(wrong.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(wrong.status().message(), ::testing::HasSubstr("expected a StatefulSet"));
  auto empty =
      ParseWorkload(WorkloadKind::kDeployment,
                    R"({"kind":"Deployment","metadata":{"name":"all"},"spec":{"selector":{}}})");
  EXPECT_THAT(empty.status().message(), ::testing::HasSubstr("would select every pod"));
  auto none = ParseWorkload(WorkloadKind::kDeployment,
                            R"({"kind":"Deployment","metadata":{"name":"x"},"spec":{}})");
  EXPECT_THAT(none.status().message(), ::testing::HasSubstr("deployment/x has no spec.selector"));
  EXPECT_FALSE(ParseWorkload(WorkloadKind::kJob, "not json").ok());
}

TEST(WorkloadsTest, FakeClientServesWorkloadsWithTheApiServersNotFound) {
  testing::FakeClient kube;
  ASSERT_TRUE(kube.AddWorkloadJson(WorkloadKind::kDeployment,
                                   Fixture("deployment-apps-v1-hello-world.json"))
                  .ok());
  auto w = kube.GetWorkload(WorkloadKind::kDeployment, "default", "hello-world");
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_EQ(w->selector.ToString(), "app=hello-world");
  auto missing = kube.GetWorkload(WorkloadKind::kDeployment, "default", "nope");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(missing.status().message(), "deployments.apps \"nope\" not found");
  EXPECT_EQ(kube.GetWorkload(WorkloadKind::kJob, "shop", "x").status().message(),
            "jobs.batch \"x\" not found");
}

}  // namespace
}  // namespace kdbg::kube
