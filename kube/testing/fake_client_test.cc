#include "kube/testing/fake_client.h"

#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kdbg::kube::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::SizeIs;

Pod MakePod(std::string ns, std::string name, std::string node, std::string app) {
  Pod p;
  p.namespace_ = std::move(ns);
  p.name = std::move(name);
  p.node_name = std::move(node);
  p.labels["app"] = std::move(app);
  p.phase = "Running";
  p.containers.push_back({"main", "img"});
  return p;
}

TEST(FakeClientTest, GetAndListWithSelectors) {
  FakeClient kube;
  kube.AddPod(MakePod("default", "hello", "node-a", "hello"));
  kube.AddPod(MakePod("kdbg", "agent-a", "node-a", "kdbg-agent"));
  kube.AddPod(MakePod("kdbg", "agent-b", "node-b", "kdbg-agent"));

  auto pod = kube.GetPod("default", "hello");
  ASSERT_TRUE(pod.ok());
  EXPECT_EQ(pod->node_name, "node-a");
  auto missing = kube.GetPod("default", "abc");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(missing.status().message(), "pods \"abc\" not found");

  auto agents = kube.ListPods("kdbg", {"app=kdbg-agent", "spec.nodeName=node-b"});
  ASSERT_TRUE(agents.ok());
  ASSERT_THAT(*agents, SizeIs(1));
  EXPECT_EQ((*agents)[0].name, "agent-b");
  std::string rv;
  auto all = kube.ListPods("", {}, &rv);
  ASSERT_TRUE(all.ok());
  EXPECT_THAT(*all, SizeIs(3));
  EXPECT_EQ(rv, kube.current_resource_version());
  EXPECT_EQ(kube.ListPods("", {"", "spec.host=x"}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(kube.calls(FakeClient::Method::kListPods), 3);
}

TEST(FakeClientTest, AddPodJsonFromFixtureShape) {
  FakeClient kube;
  ASSERT_TRUE(kube.AddPodJson(R"({"kind":"Pod","metadata":{"name":"x","namespace":"n"},
                                  "spec":{"containers":[{"name":"c"}]}})")
                  .ok());
  EXPECT_TRUE(kube.GetPod("n", "x").ok());
  EXPECT_FALSE(kube.AddPodJson("{").ok());
}

TEST(FakeClientTest, InjectedErrorsAreReturnedOnceInOrder) {
  FakeClient kube;
  kube.AddPod(MakePod("default", "hello", "node-a", "hello"));
  kube.InjectError(FakeClient::Method::kGetPod, absl::UnavailableError("connection refused"));
  kube.InjectError(FakeClient::Method::kGetPod, absl::PermissionDeniedError("forbidden"));
  EXPECT_EQ(kube.GetPod("default", "hello").status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(kube.GetPod("default", "hello").status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(kube.GetPod("default", "hello").ok());
  kube.SetPersistentError(FakeClient::Method::kCreateEvent, absl::UnavailableError("down"));
  EXPECT_FALSE(kube.CreateEvent({}).ok());
  EXPECT_FALSE(kube.CreateEvent({}).ok());
  kube.ClearErrors();
  EXPECT_TRUE(kube.CreateEvent({}).ok());
  EXPECT_THAT(kube.events(), SizeIs(1));
}

TEST(FakeClientTest, TokensAndAccessReviews) {
  FakeClient kube;
  kube.AddToken("t-alice", {.username = "alice", .groups = {"sre"}});
  kube.AddRule({.name = "debuggers",
                .groups = {"sre"},
                .verbs = {"create"},
                .api_groups = {"kdbg.io"},
                .resources = {"debugsessions"},
                .namespaces = {"default"}});
  auto alice = kube.ReviewToken("t-alice");
  ASSERT_TRUE(alice.ok());
  EXPECT_TRUE(alice->authenticated);
  EXPECT_EQ(alice->username, "alice");
  auto nobody = kube.ReviewToken("bogus");
  ASSERT_TRUE(nobody.ok());
  EXPECT_FALSE(nobody->authenticated);
  EXPECT_FALSE(nobody->error.empty());
  EXPECT_THAT(kube.reviewed_tokens(), ElementsAre("t-alice", "bogus"));

  ResourceAttributes attrs{.namespace_ = "default",
                           .verb = "create",
                           .group = "kdbg.io",
                           .resource = "debugsessions",
                           .name = "hello"};
  auto d = kube.ReviewAccess(*alice, attrs);
  ASSERT_TRUE(d.ok());
  EXPECT_TRUE(d->allowed);
  EXPECT_EQ(
      d->reason,
      "RBAC: allowed by RoleBinding \"debuggers/default\" of Role \"debuggers\" to Group \"sre\"");
  attrs.namespace_ = "prod";
  EXPECT_FALSE(kube.ReviewAccess(*alice, attrs)->allowed);
  ASSERT_THAT(kube.access_reviews(), SizeIs(2));
  EXPECT_EQ(kube.access_reviews()[1].second.namespace_, "prod");
}

TEST(FakeClientTest, WatchReplaysChangesAfterVersion) {
  FakeClient kube;
  kube.AddPod(MakePod("default", "a", "node-a", "x"));
  std::string rv;
  ASSERT_TRUE(kube.ListPods("default", {}, &rv).ok());
  kube.AddPod(MakePod("default", "b", "node-a", "x"));
  kube.AddPod(MakePod("other", "c", "node-a", "x"));
  kube.AddPod(MakePod("default", "a", "node-b", "x"));
  ASSERT_TRUE(kube.DeletePod("default", "b").ok());
  std::vector<std::string> seen;
  auto s = kube.WatchPods("default", {}, rv, [&](const WatchEvent& ev) {
    seen.push_back(ev.type + " " + ev.pod.name);
    return true;
  });
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_THAT(seen, ElementsAre("ADDED b", "MODIFIED a", "DELETED b"));

  // From "": the current state as ADDED.
  seen.clear();
  ASSERT_TRUE(kube.WatchPods("", {}, "",
                             [&](const WatchEvent& ev) {
                               seen.push_back(ev.type + " " + ev.pod.name);
                               return true;
                             })
                  .ok());
  EXPECT_THAT(seen, ElementsAre("ADDED a", "ADDED c"));
  EXPECT_EQ(kube.WatchPods("", {}, "5", [](const WatchEvent&) { return true; }).code(),
            absl::StatusCode::kOutOfRange);
}

TEST(FakeClientTest, BlockingWatchSeesLaterChangesUntilCallbackStops) {
  FakeClient kube;
  kube.set_watch_blocks(true);
  std::string rv = kube.current_resource_version();
  std::vector<std::string> seen;
  std::thread watcher([&] {
    auto s = kube.WatchPods("default", {"app=x", ""}, rv, [&](const WatchEvent& ev) {
      seen.push_back(ev.pod.name);
      return seen.size() < 2;
    });
    EXPECT_TRUE(s.ok()) << s;
  });
  kube.AddPod(MakePod("default", "one", "n", "x"));
  kube.AddPod(MakePod("default", "skipped", "n", "y"));
  kube.AddPod(MakePod("default", "two", "n", "x"));
  watcher.join();
  EXPECT_THAT(seen, ElementsAre("one", "two"));
}

TEST(FakeClientTest, EndWatchesReleasesBlockedWatchers) {
  FakeClient kube;
  kube.set_watch_blocks(true);
  std::thread watcher([&] {
    EXPECT_TRUE(kube.WatchPods("", {}, kube.current_resource_version(),
                               [](const WatchEvent&) { return true; })
                    .ok());
  });
  kube.EndWatches();
  watcher.join();
}

}  // namespace
}  // namespace kdbg::kube::testing
