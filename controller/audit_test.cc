#include "controller/audit.h"

#include <fstream>

#include "common/testing/fake_clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kube/testing/fake_client.h"
#include "nlohmann/json.hpp"
#include "tests/support/test_env.h"

namespace kdbg::controller {
namespace {

TEST(AuditTest, LineHasEveryField) {
  AuditRecord r;
  r.rpc = "trace";
  r.decision = "denied";
  r.reason = "no";
  r.user = "bob";
  r.groups = {"dev"};
  r.ns = "default";
  r.pod = "hello-world";
  r.script = "trace f main.go:10\n";
  r.start = absl::FromUnixSeconds(1700000000);
  auto j = nlohmann::json::parse(FormatAuditLine(r, absl::FromUnixSeconds(1700000001)));
  EXPECT_EQ(j["ts"], "2023-11-14T22:13:21.000Z");
  EXPECT_EQ(j["kind"], "decision");
  EXPECT_EQ(j["decision"], "denied");
  EXPECT_EQ(j["groups"][0], "dev");
  EXPECT_EQ(j["script"], "trace f main.go:10\n");
  EXPECT_EQ(j["start"], "2023-11-14T22:13:20.000Z");
  EXPECT_EQ(j["end"], "");
  for (const char* k : {"container", "node", "pid", "mode", "hits", "end_reason", "session"}) {
    EXPECT_TRUE(j.contains(k)) << k;
  }
}

TEST(AuditTest, FileSinkAppendsAndAuditorPostsEvents) {
  std::string dir = kdbg::testing::MakeTempDir("kdbg-audit-");
  std::string path = dir + "/audit.log";
  auto sink = FileAuditSink::Open(path);
  ASSERT_TRUE(sink.ok()) << sink.status();
  kube::testing::FakeClient kube;
  kdbg::testing::FakeClock clock;
  {
    WorkQueue work(1);
    Auditor auditor(sink->get(), &kube, &work, &clock);
    AuditRecord r;
    r.rpc = "trace";
    r.mode = v1::SESSION_MODE_TRACE;
    r.user = "alice";
    r.ns = "default";
    r.pod = "hello-world";
    r.session_id = "s1";
    auditor.Decision(r);
    auditor.SessionStarted(r);
    r.hits = 3;
    r.end_reason = "END_REASON_CLIENT_STOP";
    auditor.SessionEnded(r);
  }  // drains the queue
  std::ifstream in(path);
  std::string a, b, c;
  std::getline(in, a);
  std::getline(in, b);
  EXPECT_FALSE(std::getline(in, c));
  EXPECT_EQ(nlohmann::json::parse(a)["kind"], "decision");
  EXPECT_EQ(nlohmann::json::parse(b)["kind"], "session-end");
  EXPECT_EQ(nlohmann::json::parse(b)["hits"], 3);
  auto events = kube.events();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].reason, "DebugSessionStarted");
  EXPECT_EQ(events[1].reason, "DebugSessionEnded");
  EXPECT_EQ(events[1].involved_name, "hello-world");
  EXPECT_THAT(events[1].message, ::testing::HasSubstr("3 hits"));
  std::remove(path.c_str());
  ::rmdir(dir.c_str());
}

TEST(AuditTest, OpenFailsWithPath) {
  auto sink = FileAuditSink::Open("/nonexistent-dir/audit.log");
  EXPECT_FALSE(sink.ok());
  EXPECT_THAT(sink.status().message(), ::testing::HasSubstr("/nonexistent-dir/audit.log"));
}

}  // namespace
}  // namespace kdbg::controller
