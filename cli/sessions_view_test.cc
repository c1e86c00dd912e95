// `kdbg sessions` as kubectl get prints: the table, -o wide, --no-headers, -o yaml.
#include "cli/sessions_view.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "yaml-cpp/yaml.h"

namespace kdbg::cli {
namespace {

kdbg::v1::ControllerListSessionsResponse TwoSessions() {
  kdbg::v1::ControllerListSessionsResponse resp;
  auto* s = resp.add_sessions();
  s->mutable_info()->set_id("s-1");
  s->mutable_info()->set_mode(kdbg::v1::SESSION_MODE_TRACE);
  s->mutable_info()->set_host_pid(4242);
  s->mutable_info()->set_user("alice");
  s->mutable_info()->set_state(kdbg::v1::SESSION_STATE_TRACING);
  s->mutable_info()->set_hits(7);
  s->mutable_info()->set_start_unix_nanos(1000000000);
  s->mutable_info()->set_lease_expiry_unix_nanos(391000000000);
  s->mutable_target()->set_namespace_("default");
  s->mutable_target()->set_pod("hello-world");
  s->mutable_target()->set_container("app");
  s->set_node_name("node-a");
  auto* a = resp.add_sessions();
  a->mutable_info()->set_id("s-22");
  a->mutable_info()->set_mode(kdbg::v1::SESSION_MODE_ATTACH);
  a->mutable_info()->set_host_pid(77);
  a->mutable_info()->set_user("bob \"the\" admin");
  a->mutable_info()->set_state(kdbg::v1::SESSION_STATE_ATTACHED);
  a->mutable_info()->set_start_unix_nanos(91000000000 - 7200000000000);
  a->mutable_target()->set_namespace_("shop");
  a->mutable_target()->set_pod("web-0");
  a->mutable_target()->set_container("web");
  a->set_node_name("node-b");
  return resp;
}

TEST(SessionsView, TableLikeKubectlGet) {
  EXPECT_EQ(SessionsTable(TwoSessions(), 91000000000, /*wide=*/false, /*headers=*/true),
            "SESSION   MODE     NAMESPACE   POD           STATE      HITS   AGE\n"
            "s-1       trace    default     hello-world   tracing    7      90s\n"
            "s-22      attach   shop        web-0         attached   0      2h0m\n");
  EXPECT_EQ(SessionsTable(TwoSessions(), 91000000000, false, /*headers=*/false),
            "s-1    trace    default   hello-world   tracing    7   90s\n"
            "s-22   attach   shop      web-0         attached   0   2h0m\n");
  EXPECT_EQ(SessionsTable({}, 0, false, true), "");
}

TEST(SessionsView, WideAddsWhereAndWhoAndTheLeaseLeft) {
  EXPECT_EQ(SessionsTable(TwoSessions(), 91000000000, /*wide=*/true, /*headers=*/true),
            "SESSION   MODE     NAMESPACE   POD           CONTAINER   NODE     PID    USER        "
            "      STATE      HITS   AGE    LEASE\n"
            "s-1       trace    default     hello-world   app         node-a   4242   alice       "
            "      tracing    7      90s    5m0s\n"
            "s-22      attach   shop        web-0         web         node-b   77     bob \"the\" "
            "admin   attached   0      2h0m   -\n");
}

TEST(SessionsView, YamlIsTheJsonObjectsAsAList) {
  std::string text = SessionsYaml(TwoSessions());
  YAML::Node y = YAML::Load(text);
  ASSERT_TRUE(y.IsSequence()) << text;
  ASSERT_EQ(y.size(), 2u);
  EXPECT_EQ(y[0]["id"].as<std::string>(), "s-1");
  EXPECT_EQ(y[0]["pod"].as<std::string>(), "hello-world");
  EXPECT_EQ(y[0]["hits"].as<int>(), 7);
  EXPECT_EQ(y[1]["user"].as<std::string>(), "bob \"the\" admin");
  EXPECT_EQ(y[1]["mode"].as<std::string>(), "attach");
  EXPECT_EQ(SessionsYaml({}), "[]\n");
}

TEST(SessionsView, FormatsAndTheEmptyLine) {
  EXPECT_EQ(*ParseSessionsFormat(""), SessionsFormat::kTable);
  EXPECT_EQ(*ParseSessionsFormat("wide"), SessionsFormat::kWide);
  EXPECT_EQ(*ParseSessionsFormat("yaml"), SessionsFormat::kYaml);
  EXPECT_FALSE(ParseSessionsFormat("xml").ok());
  EXPECT_EQ(NoSessionsMessage("default"), "No debug sessions found in default namespace.\n");
  EXPECT_EQ(NoSessionsMessage(""), "No debug sessions found.\n");
  EXPECT_EQ(AgeText(0, 5), "-");
  EXPECT_EQ(AgeText(1000000000, 301000000000), "5m0s");
}

}  // namespace
}  // namespace kdbg::cli
