// Parses every real Pod, list and watch fixture in kube/testdata.
#include "kube/objects.h"

#include <dirent.h>

#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/test_env.h"

namespace kdbg::kube {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::SizeIs;

std::string ReadFixture(const std::string& rel) {
  std::ifstream in(kdbg::testing::TestdataDir("kube") + "/" + rel);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> FixtureFiles(const std::string& dir, const std::string& suffix) {
  std::vector<std::string> out;
  DIR* d = opendir((kdbg::testing::TestdataDir("kube") + "/" + dir).c_str());
  if (d == nullptr) return out;
  while (dirent* e = readdir(d)) {
    std::string name = e->d_name;
    if (absl::EndsWith(name, suffix)) out.push_back(absl::StrCat(dir, "/", name));
  }
  closedir(d);
  return out;
}

TEST(ParsePodTest, EveryPodFixtureParses) {
  auto files = FixtureFiles("pods", ".json");
  ASSERT_THAT(files, SizeIs(::testing::Ge(10u)));
  for (const std::string& f : files) {
    auto pod = ParsePod(ReadFixture(f));
    ASSERT_TRUE(pod.ok()) << f << ": " << pod.status();
    EXPECT_FALSE(pod->name.empty()) << f;
    EXPECT_FALSE(pod->namespace_.empty()) << f;
    EXPECT_FALSE(pod->uid.empty()) << f;
    EXPECT_FALSE(pod->containers.empty()) << f;
    EXPECT_FALSE(pod->phase.empty()) << f;
  }
}

TEST(ParsePodTest, CrashLoopInitContainerAndWaitingContainers) {
  auto pod =
      ParsePod(ReadFixture("pods/crio-openshift-init-crashloopbackoff-podinitializing.json"));
  ASSERT_TRUE(pod.ok()) << pod.status();
  EXPECT_EQ(pod->namespace_, "di-288312");
  EXPECT_EQ(pod->name, "vsystem-867f4b77cc-pqcns");
  EXPECT_EQ(pod->phase, "Pending");
  EXPECT_FALSE(pod->Ready());
  const ContainerStatus* init = pod->StatusOf("vsystem-hana-init");
  ASSERT_NE(init, nullptr);
  EXPECT_EQ(init->state, "waiting");
  EXPECT_EQ(init->state_reason, "CrashLoopBackOff");
  EXPECT_EQ(init->restart_count, 7527);
  const ContainerStatus* app = pod->StatusOf("vsystem");
  ASSERT_NE(app, nullptr);
  EXPECT_EQ(app->state, "waiting");
  EXPECT_EQ(app->state_reason, "PodInitializing");
  EXPECT_EQ(app->container_id, "");  // no containerID while waiting
  EXPECT_EQ(pod->StatusOf("nope"), nullptr);
}

TEST(ParsePodTest, RunningContainerdPod) {
  auto pod = ParsePod(ReadFixture("pods/containerd-aks-ama-logs-daemonset-3-containers.json"));
  ASSERT_TRUE(pod.ok()) << pod.status();
  EXPECT_EQ(pod->namespace_, "kube-system");
  EXPECT_EQ(pod->name, "ama-logs-24r5w");
  EXPECT_FALSE(pod->node_name.empty());
  ASSERT_THAT(pod->containers, SizeIs(3));
  EXPECT_EQ(pod->containers[1].name, "ama-logs");
  const ContainerStatus* s = pod->StatusOf("ama-logs");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->state, "running");
  EXPECT_EQ(s->container_id,
            "containerd://033f2a10bf36a43b21d1e8c72e45b575788f9c6c7ec1ae0469b36a9998c22cb6");
  EXPECT_TRUE(pod->Ready());
}

TEST(ParsePodTest, TerminatedJob) {
  auto pod = ParsePod(ReadFixture("pods/crio-openshift-job-failed-terminated-error.json"));
  ASSERT_TRUE(pod.ok()) << pod.status();
  EXPECT_EQ(pod->phase, "Failed");
  const ContainerStatus* s = pod->StatusOf("auditlog-retention");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->state, "terminated");
  EXPECT_EQ(s->state_reason, "Error");
  EXPECT_EQ(s->container_id,
            "cri-o://981e8cfa4bc588c2959ae090091b67e72933e10066e8c89cfbf97eb2970a8927");
}

TEST(ParsePodTest, NativeSidecarInitContainers) {
  auto pod = ParsePod(ReadFixture("pods/containerd-kind-native-sidecar-and-init.json"));
  ASSERT_TRUE(pod.ok()) << pod.status();
  ASSERT_THAT(pod->init_containers, SizeIs(2));
  const ContainerStatus* sidecar = pod->StatusOf("sidecar");
  ASSERT_NE(sidecar, nullptr);
  EXPECT_EQ(sidecar->state, "running");
  EXPECT_TRUE(sidecar->ready);
  EXPECT_EQ(pod->StatusOf("init")->state_reason, "Completed");
  EXPECT_EQ(pod->init_containers[0].restart_policy, "");
  EXPECT_EQ(pod->init_containers[1].name, "sidecar");
  EXPECT_EQ(pod->init_containers[1].restart_policy, "Always");
}

TEST(ParsePodTest, RejectsGarbageAndOtherKinds) {
  EXPECT_EQ(ParsePod("{not json").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParsePod("[]").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(ParsePod(ReadFixture("status/404-notfound-get-pod.json")).status().message(),
              HasSubstr("Status, not a Pod"));
  EXPECT_EQ(ParsePod(R"({"metadata":{}})").status().code(), absl::StatusCode::kInvalidArgument);
  // Wrong types inside are tolerated as empty, never thrown.
  auto odd = ParsePod(R"({"metadata":{"name":"x","labels":null},"spec":{"containers":null},
                          "status":{"containerStatuses":[{"name":"a","restartCount":"x"}]}})");
  ASSERT_TRUE(odd.ok()) << odd.status();
  EXPECT_EQ(odd->container_statuses[0].restart_count, 0);
}

TEST(ParsePodListTest, EveryListFixtureParses) {
  auto files = FixtureFiles("lists", ".json");
  ASSERT_THAT(files, SizeIs(::testing::Ge(6u)));
  for (const std::string& f : files) {
    auto pods = ParsePodList(ReadFixture(f));
    ASSERT_TRUE(pods.ok()) << f << ": " << pods.status();
    EXPECT_FALSE(pods->empty()) << f;
  }
}

TEST(ParsePodListTest, ResourceVersionAndLabels) {
  std::string rv;
  auto pods =
      ParsePodList(ReadFixture("lists/podlist-raw-api-labelselector-rancher-2018.json"), &rv);
  ASSERT_TRUE(pods.ok()) << pods.status();
  EXPECT_EQ(rv, "6237");
  ASSERT_THAT(*pods, SizeIs(1));
  EXPECT_EQ((*pods)[0].name, "hello-world-54764dfbf8-q6l82");
  EXPECT_EQ((*pods)[0].labels.at("app"), "hello-world");
}

TEST(ParsePodListTest, KubeletListOfTen) {
  auto pods = ParsePodList(ReadFixture("lists/aks-kubelet-podlist-containerd-kube-system.json"));
  ASSERT_TRUE(pods.ok()) << pods.status();
  EXPECT_THAT(*pods, SizeIs(10));
  EXPECT_EQ((*pods)[3].name, "kube-proxy-fqhfk");
}

TEST(ParsePodListTest, RejectsAPod) {
  EXPECT_EQ(ParsePodList(ReadFixture("pods/docker-minikube-simple.json")).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ParseWatchEventTest, RealWatchStream) {
  std::string text = ReadFixture("watch/pods-watch-kind-containerd-added-modified-deleted.jsonl");
  std::vector<std::string> types;
  std::vector<std::string> versions;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipWhitespace())) {
    auto ev = ParseWatchEvent(line);
    ASSERT_TRUE(ev.ok()) << ev.status();
    types.push_back(ev->type);
    versions.push_back(ev->pod.resource_version);
    if (ev->type == "DELETED") {
      EXPECT_EQ(ev->pod.name, "network-tool");
      EXPECT_TRUE(ev->pod.deleting);
    }
  }
  ASSERT_THAT(types, ElementsAre("ADDED", "ADDED", "MODIFIED", "MODIFIED", "MODIFIED", "DELETED"));
  EXPECT_EQ(versions.front(), "744176");
  EXPECT_EQ(versions.back(), "760032");
}

TEST(ParseWatchEventTest, ErrorEventCarriesStatus) {
  // The shape the API server sends when the watch's resourceVersion was compacted.
  auto ev = ParseWatchEvent(
      R"json({"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"too old resource version: 1 (744176)","reason":"Expired","code":410}})json");
  ASSERT_TRUE(ev.ok()) << ev.status();
  EXPECT_EQ(ev->type, "ERROR");
  EXPECT_EQ(ev->error_code, 410);
  EXPECT_THAT(ev->error_message, HasSubstr("too old resource version"));
}

TEST(ParseWatchEventTest, BookmarkAndGarbage) {
  auto bm = ParseWatchEvent(
      R"({"type":"BOOKMARK","object":{"kind":"Pod","apiVersion":"v1","metadata":{"resourceVersion":"12746"}}})");
  ASSERT_TRUE(bm.ok()) << bm.status();
  EXPECT_EQ(bm->pod.resource_version, "12746");
  EXPECT_FALSE(ParseWatchEvent("{\"type\":\"ADDED\"}").ok());
  EXPECT_FALSE(ParseWatchEvent("nope").ok());
}

}  // namespace
}  // namespace kdbg::kube
