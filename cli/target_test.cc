#include "cli/target.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kdbg::cli {
namespace {

using ::testing::HasSubstr;

TEST(TargetTest, ParseTarget) {
  EXPECT_EQ(*ParseTarget("pod/hello-world"), "hello-world");
  EXPECT_EQ(*ParseTarget("pods/hello-world"), "hello-world");
  EXPECT_EQ(*ParseTarget("hello-world"), "hello-world");
  EXPECT_EQ(ParseTarget("deployment/web").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseTarget("pod/").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseTarget("Web_1").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(TargetTest, SpecsAsKubectlNamesThem) {
  auto pod = ParseTargetSpec("pod/web-0", "");
  ASSERT_TRUE(pod.ok());
  EXPECT_EQ(pod->kind, TargetSpec::Kind::kPod);
  EXPECT_EQ(pod->Describe(), "pod/web-0");
  EXPECT_EQ(ParseTargetSpec("web-0", "")->Describe(), "pod/web-0");
  for (const char* t : {"deploy/web", "deployment/web", "Deployments/web"}) {
    auto s = ParseTargetSpec(t, "");
    ASSERT_TRUE(s.ok()) << t;
    EXPECT_EQ(s->kind, TargetSpec::Kind::kWorkload);
    EXPECT_EQ(s->Describe(), "deployment/web");
  }
  EXPECT_EQ(ParseTargetSpec("sts/db", "")->Describe(), "statefulset/db");
  EXPECT_EQ(ParseTargetSpec("daemonset/agent", "")->Describe(), "daemonset/agent");
  EXPECT_EQ(ParseTargetSpec("rs/web-7d9", "")->Describe(), "replicaset/web-7d9");
  EXPECT_EQ(ParseTargetSpec("job/reindex", "")->Describe(), "job/reindex");
  auto sel = ParseTargetSpec("", "app = web, tier in (a,b)");
  ASSERT_TRUE(sel.ok());
  EXPECT_EQ(sel->kind, TargetSpec::Kind::kSelector);
  EXPECT_EQ(sel->Describe(), "-l app=web,tier in (a,b)");
}

TEST(TargetTest, SpecErrorsSayWhatToDo) {
  EXPECT_THAT(ParseTargetSpec("cronjob/x", "").status().message(),
              HasSubstr("kdbg does not trace a \"cronjob\"; name pod/NAME, deploy/NAME"));
  EXPECT_THAT(ParseTargetSpec("deploy/Web_1", "").status().message(),
              HasSubstr("is not a valid deployment name"));
  EXPECT_THAT(ParseTargetSpec("deploy/web", "app=web").status().message(), HasSubstr("not both"));
  EXPECT_THAT(ParseTargetSpec("", "").status().message(), HasSubstr("name a target"));
  EXPECT_THAT(ParseTargetSpec("", "app in web").status().message(),
              HasSubstr("-l: unable to parse requirement \"app in web\""));
}

kube::Pod P(const std::string& name, const std::string& node, const std::string& phase = "Running",
            std::map<std::string, std::string> labels = {{"app", "web"}}) {
  kube::Pod p;
  p.name = name;
  p.node_name = node;
  p.phase = phase;
  p.labels = std::move(labels);
  return p;
}

TEST(TargetTest, ChoosePodsSpreadsOverNodes) {
  std::vector<kube::Pod> pods = {P("a1", "node-a"), P("a2", "node-a"), P("a3", "node-a"),
                                 P("b1", "node-b")};
  auto names = [](const std::vector<kube::Pod>& v) {
    std::vector<std::string> n;
    n.reserve(v.size());
    for (const auto& p : v) n.push_back(p.name);
    return n;
  };
  EXPECT_EQ(names(ChoosePods(pods, 0)), (std::vector<std::string>{"a1", "a2", "a3", "b1"}));
  EXPECT_EQ(names(ChoosePods(pods, 2)), (std::vector<std::string>{"a1", "b1"}));
  EXPECT_EQ(names(ChoosePods(pods, 3)), (std::vector<std::string>{"a1", "a2", "b1"}));
  EXPECT_EQ(names(ChoosePods(pods, 9)).size(), 4u);
}

// A Cluster over fixed objects; ListPods applies the selector as the API server does.
class FixedCluster final : public Cluster {
 public:
  std::vector<kube::Pod> pods;
  std::vector<kube::Workload> workloads;
  std::vector<std::string> listed;  // the label selectors asked for

  std::string Namespace() const override { return "shop"; }
  absl::StatusOr<kube::Pod> GetPod(const std::string&, const std::string&) override {
    return absl::UnimplementedError("");
  }
  absl::StatusOr<kube::Workload> GetWorkload(kube::WorkloadKind kind, const std::string& ns,
                                             const std::string& name) override {
    for (const auto& w : workloads) {
      if (w.kind == kind && w.namespace_ == ns && w.name == name) return w;
    }
    return absl::NotFoundError("deployments.apps \"" + name + "\" not found");
  }
  absl::StatusOr<std::vector<kube::Pod>> ListPods(const std::string&,
                                                  const std::string& selector) override {
    listed.push_back(selector);
    auto sel = kube::LabelSelector::Parse(selector);
    if (!sel.ok()) return sel.status();
    std::vector<kube::Pod> out;
    for (const auto& p : pods) {
      if (sel->Matches(p.labels)) out.push_back(p);
    }
    return out;
  }
  absl::StatusOr<std::string> BearerToken() override { return "t"; }
  std::vector<std::string> KubectlArgs() const override { return {}; }
};

TEST(TargetTest, WorkloadPodsAreTheRunningPodsOfItsSelector) {
  FixedCluster c;
  c.pods = {P("web-2", "node-b"), P("web-1", "node-a"), P("web-3", "node-a", "Pending"),
            P("api-1", "node-a", "Running", {{"app", "api"}})};
  c.pods[0].deleting = true;
  kube::Workload w;
  w.namespace_ = "shop";
  w.name = "web";
  w.selector = *kube::LabelSelector::Parse("app=web");
  c.workloads.push_back(w);
  auto set = ListTargetPods(c, "shop", *ParseTargetSpec("deploy/web", ""));
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_EQ(set->selection, "deployment/web");
  ASSERT_EQ(set->pods.size(), 1u);
  EXPECT_EQ(set->pods[0].name, "web-1");
  EXPECT_EQ(set->skipped, (std::vector<std::string>{"web-2 (Terminating)", "web-3 (Pending)"}));
  EXPECT_EQ(c.listed, (std::vector<std::string>{"app=web"}));

  auto missing = ListTargetPods(c, "shop", *ParseTargetSpec("deploy/nope", ""));
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr("deployment/nope in namespace shop"));

  auto none = ListTargetPods(c, "shop", *ParseTargetSpec("", "app=db"));
  EXPECT_EQ(none.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(none.status().message(), HasSubstr("-l app=db in namespace shop: no pod matches"));
  auto pending = ListTargetPods(c, "shop", *ParseTargetSpec("", "app=web,!x"));
  ASSERT_TRUE(pending.ok());
  c.pods.erase(c.pods.begin() + 1);  // web-1 gone: nothing Running
  auto not_running = ListTargetPods(c, "shop", *ParseTargetSpec("", "app=web"));
  EXPECT_THAT(not_running.status().message(),
              HasSubstr("none is Running: web-2 (Terminating), web-3 (Pending)"));
}

// Container choice: kube/containers_test.cc (one rule for the CLI and the controller).

}  // namespace
}  // namespace kdbg::cli
