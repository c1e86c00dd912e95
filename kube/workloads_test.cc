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
  auto d =
      ParseWorkload(WorkloadKind::kDeployment, Fixture("deployment-apps-v1-web-3-replicas.json"));
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->name, "web");
  EXPECT_EQ(d->namespace_, "shop");
  EXPECT_EQ(d->replicas, 3);
  EXPECT_EQ(d->selector.ToString(), "app=web");

  auto s = ParseWorkload(WorkloadKind::kStatefulSet,
                         Fixture("statefulset-apps-v1-match-expressions.json"));
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->selector.ToString(), "tier=backend,app.kubernetes.io/name in (ledger),!canary");

  auto ds =
      ParseWorkload(WorkloadKind::kDaemonSet, Fixture("daemonset-apps-v1-node-exporter.json"));
  ASSERT_TRUE(ds.ok()) << ds.status();
  EXPECT_EQ(ds->replicas, -1);
  EXPECT_EQ(ds->selector.ToString(),
            "app.kubernetes.io/component=exporter,app.kubernetes.io/name=node-exporter");

  auto j = ParseWorkload(WorkloadKind::kJob, Fixture("job-batch-v1-controller-uid.json"));
  ASSERT_TRUE(j.ok()) << j.status();
  EXPECT_EQ(j->selector.ToString(),
            "batch.kubernetes.io/controller-uid=9a4c3e2b-1f0d-4c6b-8a7e-5d2f1b0c9e83");
}

TEST(WorkloadsTest, RefusesOtherKindsAndEmptySelectors) {
  auto wrong =
      ParseWorkload(WorkloadKind::kStatefulSet, Fixture("deployment-apps-v1-web-3-replicas.json"));
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
                                   Fixture("deployment-apps-v1-web-3-replicas.json"))
                  .ok());
  auto w = kube.GetWorkload(WorkloadKind::kDeployment, "shop", "web");
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_EQ(w->selector.ToString(), "app=web");
  auto missing = kube.GetWorkload(WorkloadKind::kDeployment, "shop", "nope");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(missing.status().message(), "deployments.apps \"nope\" not found");
  EXPECT_EQ(kube.GetWorkload(WorkloadKind::kJob, "shop", "x").status().message(),
            "jobs.batch \"x\" not found");
}

}  // namespace
}  // namespace kdbg::kube
