#include "controller/policy.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kdbg::controller {
namespace {

using ::testing::HasSubstr;

TEST(PolicyTest, DefaultsProtectSystemNamespacesAndOwn) {
  Policy p = DefaultPolicy("kdbg-system");
  for (const char* ns : {"kube-system", "kube-public", "kube-node-lease", "kdbg-system"}) {
    absl::Status s = CheckNamespace(p, ns);
    EXPECT_TRUE(absl::IsPermissionDenied(s)) << ns;
    EXPECT_THAT(s.message(), HasSubstr(ns));
  }
  EXPECT_TRUE(CheckNamespace(p, "default").ok());
}

TEST(PolicyTest, ParsesEveryKey) {
  auto p = ParsePolicy(R"(
protectedNamespaces: [payments]
defaultLease: 2m
maxLease: 5m
maxSessionsPerUser: 1
maxSessions: 4
allowedScriptCommands: [trace, on, continue]
allowedActions: [print]
)",
                       "kdbg");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_THAT(p->protected_namespaces, ::testing::ElementsAre("payments", "kdbg"));
  EXPECT_EQ(p->default_lease, absl::Minutes(2));
  EXPECT_EQ(p->max_lease, absl::Minutes(5));
  EXPECT_EQ(p->max_sessions_per_user, 1);
  EXPECT_EQ(p->max_sessions, 4);
  EXPECT_TRUE(CheckNamespace(*p, "kube-system").ok()) << "the list replaces the defaults";
}

TEST(PolicyTest, RejectsBadInput) {
  EXPECT_THAT(ParsePolicy("maxLease: soon", "").status().message(), HasSubstr("maxLease"));
  EXPECT_THAT(ParsePolicy("maxLeases: 1m", "").status().message(), HasSubstr("unknown key"));
  EXPECT_FALSE(ParsePolicy("maxSessions: [1", "").ok());
  EXPECT_FALSE(ParsePolicy("maxSessions: 0", "").ok());
  EXPECT_TRUE(absl::IsNotFound(LoadPolicyFile("/nonexistent/policy.yaml", "").status()));
}

TEST(PolicyTest, LeaseDefaultsAndCaps) {
  Policy p;
  p.default_lease = absl::Minutes(10);
  p.max_lease = absl::Minutes(30);
  EXPECT_EQ(EffectiveLeaseMs(p, 0), 600000);
  EXPECT_EQ(EffectiveLeaseMs(p, 5000), 5000);
  EXPECT_EQ(EffectiveLeaseMs(p, 7200000), 1800000);
}

TEST(PolicyTest, ScriptCommandsAndActions) {
  Policy p;
  const char* kScript =
      "trace handleSlash main.go:10\n# c\non handleSlash print r.RemoteAddr\ncontinue\n";
  EXPECT_TRUE(CheckScript(p, kScript, "t.dlv").ok());
  // Without restrictions the grammar still applies: refused here, before any agent is called.
  EXPECT_EQ(CheckScript(p, "call os.Exit(1)\n", "t.dlv").code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CheckScript(p, std::string(1 << 20, '#'), "t.dlv").code(),
            absl::StatusCode::kInvalidArgument);
  p.allowed_script_commands = {"trace", "on", "continue"};
  p.allowed_actions = {"print"};
  EXPECT_TRUE(CheckScript(p, kScript, "t.dlv").ok());
  absl::Status s = CheckScript(p, "trace f main.go:1\ncond f x > 1\n", "t.dlv");
  EXPECT_TRUE(absl::IsPermissionDenied(s));
  EXPECT_THAT(s.message(), HasSubstr("t.dlv:2: command \"cond\""));
  s = CheckScript(p, "trace f main.go:1\non f stack\n", "t.dlv");
  EXPECT_THAT(s.message(), HasSubstr("t.dlv:2"));
}

// The policy judges the agent's grammar: aliases are the commands they stand for.
TEST(PolicyTest, AliasesAreJudgedAsTheirCommands) {
  Policy p;
  p.allowed_script_commands = {"trace", "on", "continue"};
  p.allowed_actions = {"print"};
  EXPECT_TRUE(CheckScript(p, "t f main.go:1\non f p x\nc\n", "t.dlv").ok());
  absl::Status s = CheckScript(p, "t f main.go:1\nb g main.go:2\n", "t.dlv");
  EXPECT_TRUE(absl::IsPermissionDenied(s)) << s;
  EXPECT_THAT(s.message(), HasSubstr("t.dlv:2: command \"b\" (break) is not allowed"));
  s = CheckScript(p, "t f main.go:1\non f bt\n", "t.dlv");
  EXPECT_TRUE(absl::IsPermissionDenied(s)) << s;
  EXPECT_THAT(s.message(), HasSubstr("t.dlv:2: \"on ... bt\""));
  s = CheckScript(p, "t f main.go:1\ncondition f x > 1\n", "t.dlv");
  EXPECT_THAT(s.message(), HasSubstr("command \"condition\" (cond)"));
  // A script the agent would refuse is refused here, with the agent's message.
  s = CheckScript(p, "t f main.go:1\ncall os.Exit(1)\n", "t.dlv");
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  EXPECT_THAT(s.message(), HasSubstr("t.dlv:2: command \"call\" is not allowed"));
}

TEST(PolicyTest, PolicyWordsAreCanonicalized) {
  auto p = ParsePolicy("allowedScriptCommands: [t, trace, on, b, c]\nallowedActions: [bt]\n", "");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_THAT(p->allowed_script_commands,
              ::testing::ElementsAre("trace", "on", "break", "continue"));
  EXPECT_THAT(p->allowed_actions, ::testing::ElementsAre("stack"));
  EXPECT_TRUE(CheckScript(*p, "trace f main.go:1\non f stack\ncontinue\n", "t.dlv").ok());
  EXPECT_THAT(ParsePolicy("allowedScriptCommands: [trac]\n", "").status().message(),
              HasSubstr("\"trac\" is not a trace-script word"));
}

TEST(PolicyTest, SessionLimits) {
  Policy p;
  p.max_sessions_per_user = 1;
  p.max_sessions = 2;
  SessionLimiter l(&p);
  EXPECT_TRUE(l.Acquire("alice").ok());
  EXPECT_TRUE(absl::IsResourceExhausted(l.Acquire("alice")));
  EXPECT_TRUE(l.Acquire("bob").ok());
  EXPECT_THAT(l.Acquire("carol").message(), HasSubstr("maxSessions"));
  l.Release("alice");
  EXPECT_TRUE(l.Acquire("carol").ok());
  EXPECT_EQ(l.Running(), 2);
}

TEST(PolicyTest, DebugBinaryCap) {
  Policy d = DefaultPolicy("kdbg");
  EXPECT_EQ(d.max_debug_binary_size, int64_t{512} << 20);
  EXPECT_TRUE(CheckDebugBinarySize(d, int64_t{512} << 20, "api.debug").ok());
  absl::Status over = CheckDebugBinarySize(d, (int64_t{512} << 20) + 1, "api.debug");
  EXPECT_TRUE(absl::IsResourceExhausted(over));
  EXPECT_THAT(over.message(),
              HasSubstr("debug binary api.debug is 512.0 MiB, larger than the kdbg policy's cap "
                        "of 512 MiB (maxDebugBinarySize); nothing was uploaded"));

  auto p = ParsePolicy("maxDebugBinarySize: 64Mi\n", "kdbg");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->max_debug_binary_size, int64_t{64} << 20);
  EXPECT_THAT(CheckDebugBinarySize(*p, int64_t{100} << 20, "x").message(),
              HasSubstr("is 100 MiB, larger than the kdbg policy's cap of 64 MiB"));
  auto off = ParsePolicy("maxDebugBinarySize: 0\n", "kdbg");
  ASSERT_TRUE(off.ok());
  EXPECT_THAT(CheckDebugBinarySize(*off, 10, "x").message(), HasSubstr("turned off"));
  EXPECT_TRUE(absl::IsInvalidArgument(CheckDebugBinarySize(d, 0, "x")));
  auto bad = ParsePolicy("maxDebugBinarySize: lots\n", "kdbg");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(),
              HasSubstr("policy: maxDebugBinarySize: \"lots\" is not a size"));
}

TEST(PolicyTest, LivenessStopShare) {
  EXPECT_EQ(DefaultPolicy("kdbg").liveness_stop_share_percent, 50);
  auto p = ParsePolicy("livenessStopSharePercent: 30\n", "kdbg");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->liveness_stop_share_percent, 30);
  for (const char* bad : {"livenessStopSharePercent: 0\n", "livenessStopSharePercent: 95\n"}) {
    auto b = ParsePolicy(bad, "kdbg");
    ASSERT_FALSE(b.ok()) << bad;
    EXPECT_THAT(b.status().message(), HasSubstr("is not a share from 1 to 90"));
  }
}

}  // namespace
}  // namespace kdbg::controller

namespace kdbg::controller {
namespace {

TEST(PolicyTest, MaxPodsPerSession) {
  Policy d = DefaultPolicy("kdbg-system");
  EXPECT_EQ(d.max_pods_per_session, defaults::kMaxPodsPerSession);
  auto p = ParsePolicy("maxPodsPerSession: 3\n", "kdbg-system");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->max_pods_per_session, 3);
  EXPECT_FALSE(ParsePolicy("maxPodsPerSession: 0\n", "kdbg-system").ok());
  EXPECT_TRUE(CheckPodCount(*p, 3, "deployment/web").ok());
  absl::Status s = CheckPodCount(*p, 4, "deployment/web");
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(s.message(),
            "deployment/web has 4 running pods; the kdbg policy allows at most 3 per session "
            "(maxPodsPerSession): choose fewer with --max-pods N or a narrower -l selector");
}

TEST(PolicyTest, AttachRule) {
  EXPECT_EQ(DefaultPolicy("kdbg-system").attach, AttachRule::kAllowed);
  EXPECT_TRUE(CheckAttachAllowed(DefaultPolicy("kdbg-system")).ok());
  for (AttachRule rule : {AttachRule::kAllowed, AttachRule::kRbac, AttachRule::kDenied}) {
    auto p = ParsePolicy(absl::StrCat("attach: ", AttachRuleWord(rule), "\n"), "kdbg-system");
    ASSERT_TRUE(p.ok()) << p.status();
    EXPECT_EQ(p->attach, rule);
    EXPECT_EQ(CheckAttachAllowed(*p).ok(), rule != AttachRule::kDenied);
  }
  auto denied = ParsePolicy("attach: denied\n", "kdbg-system");
  ASSERT_TRUE(denied.ok());
  absl::Status s = CheckAttachAllowed(*denied);
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(s.message(),
            "kdbg attach is turned off by the kdbg policy (attach: denied): trace the service with "
            "`kdbg trace` instead, or ask the cluster's kdbg admins");
  auto bad = ParsePolicy("attach: sometimes\n", "kdbg-system");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.status().message(),
            "policy: attach: \"sometimes\" is not one of allowed, rbac, denied");
}

}  // namespace
}  // namespace kdbg::controller
