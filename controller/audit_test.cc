#include "controller/audit.h"

#include <fstream>

#include "absl/strings/str_cat.h"
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

TEST(AuditTest, HostileTextIsEscapedAndBounded) {
  // What a refused request carries into its decision line: names that failed validation.
  AuditRecord r;
  r.rpc = "trace";
  r.decision = "denied";
  r.user = "eve\xE2\x80\xAEgnp.exe";  // U+202E RIGHT-TO-LEFT OVERRIDE
  r.groups.assign(1000, "g");
  r.ns = "default\n{\"decision\":\"allowed\"}";
  r.pod = "../x\x1b[2J\x07\x7f\\" + std::string(1 << 20, 'a');
  r.container =
      "c\xC2\x9B"
      "31m";  // U+009B, the C1 control sequence introducer
  r.reason = std::string(1 << 20, 'r');
  r.script = "trace f main.go:10\n\tprint x\x1b]0;owned\x07\n" + std::string(1 << 20, 's');
  std::string line = FormatAuditLine(r, absl::FromUnixSeconds(1700000001));
  EXPECT_EQ(line.find('\n'), std::string::npos);
  EXPECT_LT(line.size(), kAuditScriptBytes + kAuditReasonBytes + 10 * 1024);
  auto j = nlohmann::json::parse(line);
  EXPECT_EQ(j["user"], "eve\\u202egnp.exe");
  EXPECT_EQ(j["namespace"], "default\\x0a{\"decision\":\"allowed\"}");
  EXPECT_EQ(j["decision"], "denied");
  std::string pod = j["pod"];
  EXPECT_THAT(pod, ::testing::StartsWith("../x\\x1b[2J\\x07\\x7f\\\\aaaa"));
  EXPECT_THAT(pod, ::testing::EndsWith(
                       absl::StrCat("...(", (1 << 20) + 11 - kAuditNameBytes, " more bytes)")));
  EXPECT_EQ(j["container"], "c\\u009b31m");
  EXPECT_THAT(std::string(j["reason"]), ::testing::EndsWith(" more bytes)"));
  std::string script = j["script"];
  EXPECT_THAT(script,
              ::testing::StartsWith("trace f main.go:10\n\tprint x\\x1b]0;owned\\x07\nssss"));
  EXPECT_THAT(script, ::testing::EndsWith(" more bytes)"));
  ASSERT_EQ(j["groups"].size(), kAuditMaxGroups + 1);
  EXPECT_EQ(j["groups"][kAuditMaxGroups], "...(936 more groups)");
  for (const auto& [key, value] : j.items()) {
    if (!value.is_string()) continue;
    for (char c : std::string(value)) {
      if (key != "script") {
        EXPECT_FALSE(c >= 0 && c < 0x20) << key << " holds a control byte";
      }
      EXPECT_NE(c, 0x1b) << key;
    }
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
