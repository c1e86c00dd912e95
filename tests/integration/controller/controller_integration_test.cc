// The controller end to end over real gRPC and TLS, against fake agents and the in-memory API.
#include <fstream>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/clock.h"
#include "common/grpc_limits.h"
#include "common/grpc_status.h"
#include "controller/testing/pods.h"
#include "gmock/gmock.h"
#include "google/protobuf/unknown_field_set.h"
#include "gtest/gtest.h"
#include "tests/integration/controller/controller_fixture.h"
#include "tests/support/tcp_proxy.h"
#include "tests/support/test_env.h"

namespace kdbg::controller::testing {
namespace {

using ::testing::HasSubstr;
using Method = kube::testing::FakeClient::Method;
using ::kdbg::testing::TcpProxy;

struct TraceResult {
  std::vector<v1::Event> events;
  grpc::Status status;
};

class ControllerIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto f = ControllerFixture::Start();
    KDBG_REQUIRE_REAL(f.ok(), "openssl and loopback addresses 127.0.0.2/.3: " +
                                  std::string(f.ok() ? "" : f.status().message()));
    f_ = std::move(*f);
    stub_ = f_->NewStub();
  }

  TraceResult Trace(const std::string& token, const std::string& ns, const std::string& pod,
                    const std::string& script = "trace handleSlash main.go:10\n") {
    auto ctx = ControllerFixture::Context(token);
    v1::ControllerTraceRequest req;
    req.mutable_target()->set_namespace_(ns);
    req.mutable_target()->set_pod(pod);
    req.mutable_options()->set_script(script);
    auto reader = stub_->Trace(ctx.get(), req);
    TraceResult r;
    v1::Event e;
    while (reader->Read(&e)) r.events.push_back(e);
    r.status = reader->Finish();
    return r;
  }

  // A new controller (and fake agents) with `options`, in place of SetUp's.
  void Restart(const ControllerFixtureOptions& options) {
    f_.reset();
    auto f = ControllerFixture::Start(options);
    ASSERT_TRUE(f.ok()) << f.status();
    f_ = std::move(*f);
    stub_ = f_->NewStub();
  }

  // An Attach call on `pod` in `default` read until its READY notice (the session's ID returned)
  // or its end (the status returned, and `ctx` is done).
  struct AttachResult {
    std::string session;
    grpc::Status status;
  };
  AttachResult Attach(grpc::ClientContext* ctx, const std::string& pod) {
    v1::ControllerAttachRequest req;
    req.mutable_target()->set_namespace_("default");
    req.mutable_target()->set_pod(pod);
    auto reader = stub_->Attach(ctx, req);
    v1::Event e;
    while (reader->Read(&e)) {
      if (e.has_notice() && e.notice().kind() == kdbg::v1::NOTICE_KIND_READY) {
        AttachResult r{e.session_id(), grpc::Status::OK};
        ctx->TryCancel();
        reader->Finish();
        return r;
      }
    }
    return AttachResult{"", reader->Finish()};
  }

  // A controller restarted under the policy's attach rule `rule`, and alice's Attach of web-a.
  AttachResult AttachUnder(AttachRule rule) {
    ControllerFixtureOptions o;
    o.policy.attach = rule;
    Restart(o);
    auto ctx = ControllerFixture::Context("t-alice");
    return Attach(ctx.get(), "web-a");
  }

  // Waits (bounded) until the audit log has `n` lines.
  std::vector<nlohmann::json> AuditLines(size_t n) {
    std::vector<nlohmann::json> lines;
    for (int i = 0; i < 500; ++i) {
      lines = f_->AuditLines();
      if (lines.size() >= n) break;
      absl::SleepFor(absl::Milliseconds(10));
    }
    return lines;
  }
  std::vector<kube::EventSpec> Events(size_t n) {
    std::vector<kube::EventSpec> ev;
    for (int i = 0; i < 500; ++i) {
      ev = f_->kube().events();
      if (ev.size() >= n) break;
      absl::SleepFor(absl::Milliseconds(10));
    }
    return ev;
  }

  std::unique_ptr<ControllerFixture> f_;
  std::unique_ptr<v1::Controller::Stub> stub_;
};

TEST_F(ControllerIntegrationTest, AllowedUserReachesTheAgentOfThePodsNodeOnly) {
  TraceResult r = Trace("t-alice", "default", "web-b");
  ASSERT_TRUE(r.status.ok()) << r.status.error_message();
  ASSERT_EQ(r.events.size(), 5u);
  EXPECT_EQ(r.events[0].notice().kind(), kdbg::v1::NOTICE_KIND_PROGRESS);
  EXPECT_THAT(r.events[0].notice().message(), HasSubstr("node-b"));
  EXPECT_THAT(r.events[1].notice().message(), HasSubstr("kdbg-agent-node-b"));
  EXPECT_TRUE(r.events[2].has_armed());
  EXPECT_TRUE(r.events[3].has_hit());
  ASSERT_TRUE(r.events[4].has_ended());

  EXPECT_EQ(f_->agent_a().calls(), 0) << "node-a's agent must not be called for a node-b pod";
  auto traces = f_->agent_b().traces();
  ASSERT_EQ(traces.size(), 1u);
  const v1::TraceRequest& req = traces[0];
  EXPECT_EQ(req.target().container_id(), "containerd://" + std::string(64, 'a'));
  EXPECT_EQ(req.target().container_name(), "app");
  EXPECT_EQ(req.target().pod_namespace(), "default");
  EXPECT_EQ(req.target().pod_name(), "web-b");
  EXPECT_EQ(req.target().pod_uid(), "uid-web-b");
  EXPECT_EQ(req.user(), "alice");
  EXPECT_EQ(req.lease_ms(), 600000);
  EXPECT_FALSE(req.session_id().empty());
  EXPECT_EQ(r.events[2].session_id(), req.session_id());

  auto lines = AuditLines(2);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0]["kind"], "decision");
  EXPECT_EQ(lines[0]["decision"], "allowed");
  EXPECT_EQ(lines[0]["user"], "alice");
  EXPECT_EQ(lines[0]["node"], "node-b");
  EXPECT_EQ(lines[0]["agent"], "kdbg-agent-node-b");
  EXPECT_EQ(lines[0]["script"], "trace handleSlash main.go:10\n");
  EXPECT_EQ(lines[1]["kind"], "session-end");
  EXPECT_EQ(lines[1]["session"], req.session_id());
  EXPECT_EQ(lines[1]["pid"], 4242);
  EXPECT_EQ(lines[1]["hits"], 1);
  EXPECT_EQ(lines[1]["end_reason"], "END_REASON_MAX_HITS");
  auto events = Events(2);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].reason, "DebugSessionStarted");
  EXPECT_EQ(events[0].involved_name, "web-b");
  EXPECT_EQ(events[1].reason, "DebugSessionEnded");
  EXPECT_EQ(f_->service().ActiveSessions(), 0);
}

TEST_F(ControllerIntegrationTest, DeniedUserGetsTheReviewersReason) {
  TraceResult r = Trace("t-bob", "default", "web-a");
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  // RBAC's refusal, then the right to ask for (the CLI prints it as it comes).
  EXPECT_EQ(r.status.error_message(),
            "user \"bob\" may not create debugsessions.kdbg.io \"web-a\" in namespace "
            "\"default\": no RBAC rule allows it; ask for the `create debugsessions.kdbg.io` "
            "right in that namespace (ClusterRole kdbg-user, or kdbg-tracer to trace only)");
  EXPECT_EQ(f_->agent_a().calls() + f_->agent_b().calls(), 0);
  EXPECT_EQ(f_->kube().calls(Method::kGetPod), 0) << "no pod read before authorization";
  auto lines = AuditLines(1);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0]["decision"], "denied");
  EXPECT_EQ(lines[0]["user"], "bob");
  EXPECT_EQ(lines[0]["pod"], "web-a");
  EXPECT_TRUE(f_->kube().events().empty()) << "no session, no pod Event";
}

// `attach: denied`: no attach for anyone, before any pod is read or agent called; trace goes on.
TEST_F(ControllerIntegrationTest, AttachTurnedOffByPolicyStartsNothing) {
  AttachResult r = AttachUnder(AttachRule::kDenied);
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(r.status.error_message(),
            "kdbg attach is turned off by the kdbg policy (attach: denied): trace the service with "
            "`kdbg trace` instead, or ask the cluster's kdbg admins");
  EXPECT_EQ(f_->agent_a().calls(), 0);
  EXPECT_EQ(f_->kube().calls(Method::kGetPod), 0);
  auto lines = AuditLines(1);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0]["decision"], "denied");
  EXPECT_EQ(lines[0]["mode"], "attach");
  TraceResult t = Trace("t-alice", "default", "web-a");
  EXPECT_TRUE(t.status.ok()) << t.status.error_message();
}

// `attach: rbac`: `create debugsessions` lets alice trace, not attach; attach needs
// `create debugsessions/attach` for the pod, and works once she is granted it.
TEST_F(ControllerIntegrationTest, AttachUnderTheRbacRuleNeedsTheAttachSubresource) {
  AttachResult r = AttachUnder(AttachRule::kRbac);
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(r.status.error_message(),
              HasSubstr("user \"alice\" may not create debugsessions.kdbg.io/attach \"web-a\" in "
                        "namespace \"default\""));
  EXPECT_THAT(r.status.error_message(), HasSubstr("(attach: rbac): ask for the kdbg-user role"));
  EXPECT_EQ(f_->agent_a().calls(), 0);
  EXPECT_EQ(f_->agent_a().attaches().size(), 0u);
  auto reviews = f_->kube().access_reviews();
  ASSERT_EQ(reviews.size(), 2u);
  EXPECT_EQ(reviews[1].second.subresource, "attach");
  TraceResult t = Trace("t-alice", "default", "web-a");
  EXPECT_TRUE(t.status.ok()) << t.status.error_message();

  f_->kube().AddRule({.name = "RoleBinding \"attachers\"",
                      .users = {"alice"},
                      .verbs = {"create"},
                      .api_groups = {"kdbg.io"},
                      .resources = {"debugsessions/attach"},
                      .namespaces = {"default"}});
  auto granted = ControllerFixture::Context("t-alice");
  r = Attach(granted.get(), "web-a");
  EXPECT_FALSE(r.session.empty()) << r.status.error_message();
  EXPECT_EQ(f_->agent_a().attaches().size(), 1u);
}

TEST_F(ControllerIntegrationTest, RejectedOrMissingTokenIsUnauthenticated) {
  TraceResult r = Trace("forged", "default", "web-a");
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  r = Trace("", "default", "web-a");
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_TRUE(f_->kube().access_reviews().empty());
  EXPECT_EQ(f_->agent_a().calls(), 0);
  auto lines = AuditLines(2);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0]["decision"], "denied");
  EXPECT_EQ(lines[1]["decision"], "denied");
}

TEST_F(ControllerIntegrationTest, ProtectedNamespaceIsRefusedEvenWithRbac) {
  TraceResult r = Trace("t-alice", "kube-system", "coredns");
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(r.status.error_message(), HasSubstr("protected"));
  EXPECT_EQ(f_->agent_a().calls(), 0);
  auto lines = AuditLines(1);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0]["decision"], "denied");
  EXPECT_THAT(lines[0]["reason"].get<std::string>(), HasSubstr("protected"));
}

// Hostile requests (docs/security-model.md, "Bad input at every edge"): each is refused with its
// own code and message before any pod is read or any agent is called, and leaves no session.
TEST_F(ControllerIntegrationTest, HostileRequestsAreRefusedBeforeAnyPodReadOrAgentCall) {
  f_->kube().AddPod(RunningPod("shop", "api", "node-a"));  // alice may not debug in "shop"
  f_->kube().AddRejectedToken("t-expired", "token has expired (exp 2026-12-01T00:00:00Z)");
  std::string many;  // 10,000 tracepoints in 40,000 bytes: under the size bound
  for (int i = 1; i <= 10000; ++i) many += "t f\n";
  const std::string mb_expr =
      "trace h main.f\non h print " + std::string(1 << 20, 'x') + "\n";  // an expression of 1 MB
  struct Case {
    const char* name;
    std::string token, ns, pod, script;
    grpc::StatusCode code;
    const char* want;
  } cases[] = {
      {"expired token", "t-expired", "default", "web-a", "trace main.f\n",
       grpc::StatusCode::UNAUTHENTICATED, "token has expired"},
      {"forged token", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhZG1pbiJ9.", "default", "web-a",
       "trace main.f\n", grpc::StatusCode::UNAUTHENTICATED, ""},
      {"pod in a namespace the user may not debug", "t-alice", "shop", "api", "trace main.f\n",
       grpc::StatusCode::PERMISSION_DENIED, "shop"},
      {"path in the pod name", "t-alice", "default", "../../secrets/x", "trace main.f\n",
       grpc::StatusCode::INVALID_ARGUMENT,
       "pod \"../../secrets/x\" is not a valid Kubernetes name"},
      {"path in the namespace", "t-alice", "..", "web-a", "trace main.f\n",
       grpc::StatusCode::INVALID_ARGUMENT, "namespace \"..\" is not a valid Kubernetes name"},
      {"10,000 tracepoints", "t-alice", "default", "web-a", many,
       grpc::StatusCode::INVALID_ARGUMENT, "script:101: more than 100 tracepoints"},
      {"an expression of 1 MB", "t-alice", "default", "web-a", mb_expr,
       grpc::StatusCode::INVALID_ARGUMENT, "a trace script may hold at most 65536 bytes"},
  };
  for (const Case& c : cases) {
    TraceResult r = Trace(c.token, c.ns, c.pod, c.script);
    EXPECT_EQ(r.status.error_code(), c.code) << c.name << ": " << r.status.error_message();
    EXPECT_THAT(r.status.error_message(), HasSubstr(c.want)) << c.name;
    EXPECT_TRUE(r.events.empty()) << c.name;
  }
  // A 100 MB trace script: gRPC's receive cap (common/grpc_limits.h) refuses it before the handler,
  // so not even an audit line is written for it.
  auto hostile = f_->NewUncappedStub();
  ASSERT_NE(hostile, nullptr);
  auto ctx = ControllerFixture::Context("t-alice");
  v1::ControllerTraceRequest req;
  req.mutable_target()->set_namespace_("default");
  req.mutable_target()->set_pod("web-a");
  req.mutable_options()->set_script(std::string(100 << 20, '#'));
  auto reader = hostile->Trace(ctx.get(), req);
  v1::Event e;
  EXPECT_FALSE(reader->Read(&e));
  grpc::Status big = reader->Finish();
  EXPECT_EQ(big.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << big.error_message();
  // A request that does not parse (Trace and Attach take their bytes raw: service.h): its
  // `target` field's bytes are no PodTarget. Refused by name before anything, no audit line.
  {
    v1::ControllerTraceRequest bad_trace;
    v1::ControllerAttachRequest bad_attach;
    for (google::protobuf::Message* m :
         std::initializer_list<google::protobuf::Message*>{&bad_trace, &bad_attach}) {
      m->GetReflection()->MutableUnknownFields(m)->AddLengthDelimited(1,
                                                                      std::string("\xff\xff", 2));
    }
    auto tctx = ControllerFixture::Context("t-alice");
    auto treader = stub_->Trace(tctx.get(), bad_trace);
    EXPECT_FALSE(treader->Read(&e));
    grpc::Status t = treader->Finish();
    EXPECT_EQ(t.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << t.error_message();
    EXPECT_EQ(t.error_message(), "the request is not a well-formed kdbg.v1.ControllerTraceRequest");
    auto actx = ControllerFixture::Context("t-alice");
    auto areader = stub_->Attach(actx.get(), bad_attach);
    EXPECT_FALSE(areader->Read(&e));
    grpc::Status a = areader->Finish();
    EXPECT_EQ(a.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << a.error_message();
    EXPECT_EQ(a.error_message(),
              "the request is not a well-formed kdbg.v1.ControllerAttachRequest");
  }

  EXPECT_EQ(f_->kube().calls(Method::kGetPod), 0);
  EXPECT_EQ(f_->agent_a().calls() + f_->agent_b().calls(), 0);
  EXPECT_EQ(f_->service().ActiveSessions(), 0);
  EXPECT_TRUE(f_->kube().events().empty());
  auto lines = AuditLines(std::size(cases));
  ASSERT_EQ(lines.size(), std::size(cases));
  for (const auto& line : lines) EXPECT_NE(line["decision"], "allowed") << line.dump();
}

TEST_F(ControllerIntegrationTest, NoAgentOnTheNode) {
  TraceResult r = Trace("t-alice", "default", "web-c");
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(r.status.error_message(), HasSubstr("node-c"));
  auto lines = AuditLines(1);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0]["decision"], "error");
  EXPECT_EQ(lines[0]["node"], "node-c");
}

TEST_F(ControllerIntegrationTest, ApiServerUnreachable) {
  f_->kube().SetPersistentError(
      Method::kReviewToken, absl::UnavailableError("dial tcp 10.96.0.1:443: connection refused"));
  TraceResult r = Trace("t-alice", "default", "web-a");
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(r.status.error_message(), HasSubstr("connection refused"));
  // Over real gRPC: the CLI can tell this answer from a controller it cannot reach.
  EXPECT_TRUE(AnsweredByKdbg(r.status));
  auto lines = AuditLines(1);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0]["decision"], "error");
}

TEST_F(ControllerIntegrationTest, AgentUnreachable) {
  f_->kube().AddPod(AgentPod("node-c", "127.0.0.4"));  // nothing listens there
  TraceResult r = Trace("t-alice", "default", "web-c");
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(r.status.error_message(), HasSubstr("kdbg-agent-node-c"));
  EXPECT_TRUE(AnsweredByKdbg(r.status));
  EXPECT_THAT(r.status.error_message(), HasSubstr("127.0.0.4"));
  auto lines = AuditLines(2);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0]["decision"], "allowed");
  EXPECT_EQ(lines[1]["kind"], "session-end");
  EXPECT_EQ(lines[1]["end_reason"], "END_REASON_ERROR");
  auto events = Events(2);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1].reason, "DebugSessionEnded");
}

// The agent's container killed mid-trace: its stream breaks (UNAVAILABLE, no EndedEvent). The
// controller asks the node's agent, while it restarts (two refused calls), how the session ended:
// the end the guardian recorded (RECOVERED, target released) reaches the CLI, whose call ends OK,
// and the audit. The hits relayed before the kill are the session's.
TEST_F(ControllerIntegrationTest, AgentKilledMidTraceIsAuditedAsItsGuardianEndedIt) {
  const AgentScript script = KilledMidTrace();
  f_->agent_a().set_script(script);
  TraceResult r = Trace("t-alice", "default", "web-a");
  ASSERT_TRUE(r.status.ok()) << r.status.error_message();
  ASSERT_FALSE(r.events.empty());
  const v1::Event& last = r.events.back();
  ASSERT_TRUE(last.has_ended());
  EXPECT_EQ(last.ended().reason(), v1::END_REASON_RECOVERED);
  EXPECT_EQ(last.ended().hits(), 2);
  EXPECT_TRUE(last.ended().target_alive());
  EXPECT_FALSE(last.ended().target_traced());
  EXPECT_EQ(last.ended().message(), script.recovered_message);
  bool told = false;  // the CLI hears that the stream broke and what the controller does about it
  for (const v1::Event& e : r.events) {
    told = told || absl::StrContains(e.notice().message(), "asking the kdbg agent on node node-a");
  }
  EXPECT_TRUE(told);
  const auto traces = f_->agent_a().traces();
  ASSERT_EQ(traces.size(), 1u);
  EXPECT_EQ(f_->agent_a().stop_requests(), std::vector<std::string>(3, traces[0].session_id()));
  auto lines = AuditLines(2);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[1]["kind"], "session-end");
  EXPECT_EQ(lines[1]["end_reason"], "END_REASON_RECOVERED");
  EXPECT_EQ(lines[1]["reason"], script.recovered_message);
  EXPECT_EQ(lines[1]["hits"], 2);
  EXPECT_EQ(f_->service().ActiveSessions(), 0);
}

// The same break with no recorded end (the node's agent answers, but did not recover this
// session): the broken stream is the end, ERROR, after one question; the CLI is told that the
// agent was lost mid-session, that its side ends the session, and how to check.
TEST_F(ControllerIntegrationTest, AgentStreamBrokenWithoutARecordedEndIsAnError) {
  AgentScript script;
  script.die = true;
  f_->agent_a().set_script(script);
  TraceResult r = Trace("t-alice", "default", "web-a");
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_TRUE(AnsweredByKdbg(r.status));
  EXPECT_THAT(r.status.error_message(),
              ::testing::StartsWith("lost the kdbg agent kdbg-agent-node-a"));
  EXPECT_THAT(r.status.error_message(), HasSubstr("during the session ("));
  EXPECT_THAT(r.status.error_message(), HasSubstr("check with `kdbg sessions`"));
  EXPECT_EQ(f_->agent_a().stop_requests().size(), 1u);
  auto lines = AuditLines(2);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[1]["end_reason"], "END_REASON_ERROR");
}

// The controller relays the agent's events as bytes (event_peek.h); one that is not an Event ends
// the session: the agent's call is cancelled (its safe end) and the CLI is told why, after the
// events before it.
TEST_F(ControllerIntegrationTest, AnEventTheControllerCannotReadEndsTheSession) {
  AgentScript script;
  script.hits = 2;
  script.malformed_event = true;
  f_->agent_a().set_script(script);
  TraceResult r = Trace("t-alice", "default", "web-a");
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::INTERNAL);
  EXPECT_TRUE(AnsweredByKdbg(r.status));
  EXPECT_THAT(r.status.error_message(), HasSubstr("agent kdbg-agent-node-a (127.0.0.2:"));
  EXPECT_THAT(r.status.error_message(),
              HasSubstr("sent an event the controller cannot read (not a well-formed "
                        "kdbg.v1.Event"));
  int hits = 0;
  for (const v1::Event& e : r.events) hits += e.has_hit() ? 1 : 0;
  EXPECT_EQ(hits, 2);
  EXPECT_EQ(f_->agent_a().AwaitCancelled(1, absl::Seconds(5)), 1);
  auto lines = AuditLines(2);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[1]["end_reason"], "END_REASON_ERROR");
  EXPECT_EQ(lines[1]["hits"], 2);
  EXPECT_EQ(f_->service().ActiveSessions(), 0);
}

TEST_F(ControllerIntegrationTest, ClientVanishingCancelsTheAgentCall) {
  AgentScript script;
  script.end_by_itself = false;
  f_->agent_a().set_script(script);
  auto ctx = ControllerFixture::Context("t-alice");
  v1::ControllerTraceRequest req;
  req.mutable_target()->set_namespace_("default");
  req.mutable_target()->set_pod("web-a");
  req.mutable_options()->set_script("trace handleSlash main.go:10\n");
  auto reader = stub_->Trace(ctx.get(), req);
  v1::Event e;
  int got = 0;
  while (got < 4 && reader->Read(&e)) ++got;  // 2 progress, armed, hit
  ASSERT_EQ(got, 4);
  EXPECT_EQ(f_->agent_a().active(), 1);
  absl::Time cancelled_at = kdbg::MonotonicNow();
  ctx->TryCancel();
  EXPECT_EQ(f_->agent_a().AwaitCancelled(1, absl::Seconds(5)), 1);
  EXPECT_LT(kdbg::MonotonicNow() - cancelled_at, absl::Seconds(1))
      << "the agent must hear it promptly";
  reader->Finish();
  auto lines = AuditLines(2);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[1]["end_reason"], "END_REASON_CLIENT_GONE");
}

// The target container's liveness probe (kube/probes.h): the user is told the budget, the agent
// gets the stop limit (the policy's default share, 50%), and resolve shows it.
TEST_F(ControllerIntegrationTest, LivenessProbeBudgetReachesTheUserAndTheAgent) {
  kube::Pod pod = RunningPod("default", "web-live", "node-b");
  pod.containers[0].liveness_probe = kube::Probe{"httpGet :8080/healthz", 2, 1, 3};
  f_->kube().AddPod(pod);
  const std::string summary =
      "liveness probe httpGet :8080/healthz every 2s, timeout 1s, failure threshold 3: the kubelet "
      "restarts the container after a stop of 5s; kdbg resumes a stop after 2.5s (50%)";
  TraceResult r = Trace("t-alice", "default", "web-live");
  ASSERT_TRUE(r.status.ok()) << r.status.error_message();
  bool told = false;
  for (const auto& e : r.events) told |= e.has_notice() && e.notice().message() == summary;
  EXPECT_TRUE(told) << "no progress line with the liveness budget";
  auto traces = f_->agent_b().traces();
  ASSERT_EQ(traces.size(), 1u);
  EXPECT_EQ(traces[0].max_stop_ms(), 2500);

  auto ctx = ControllerFixture::Context("t-alice");
  v1::ControllerResolveRequest rreq;
  rreq.mutable_target()->set_namespace_("default");
  rreq.mutable_target()->set_pod("web-live");
  v1::ControllerResolveResponse resp;
  grpc::Status st = stub_->Resolve(ctx.get(), rreq, &resp);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(resp.stop_budget().max_stop_ms(), 2500);
  EXPECT_EQ(resp.stop_budget().budget_ms(), 5000);
  EXPECT_EQ(resp.stop_budget().summary(), summary);

  // A pod without a probe: no limit for the agent, no line in a trace.
  TraceResult plain = Trace("t-alice", "default", "web-b");
  ASSERT_TRUE(plain.status.ok()) << plain.status.error_message();
  traces = f_->agent_b().traces();
  ASSERT_EQ(traces.size(), 2u);
  EXPECT_EQ(traces[1].max_stop_ms(), 0);
}

// This process's resident set (the controller, the fake agents and the client all live here).
int64_t RssBytes() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoll(line.substr(6)) * 1024;
  }
  return -1;
}

// Back-pressure of the per-stream cap (issue 18): an agent with 64 MiB of hits for a client that
// stops reading. The controller's queue (max_buffered_events, 64) stops reading from the agent, so
// HTTP/2 flow control stops the agent's writes: memory stays bounded, nothing is dropped on the
// way (the agent, not the relay, is where hits are dropped and reported; EventStreamTest), and
// once the client reads again every hit arrives, in order.
TEST_F(ControllerIntegrationTest, SlowReaderStallsTheAgentAndMemoryStaysBounded) {
  constexpr int kHits = 16000;
  constexpr size_t kHitBytes = 4096;  // 64 MiB in all
  AgentScript script;
  script.hits = kHits;
  script.hit_bytes = kHitBytes;
  f_->agent_a().set_script(script);
  auto ctx = ControllerFixture::Context("t-alice");
  v1::ControllerTraceRequest req;
  req.mutable_target()->set_namespace_("default");
  req.mutable_target()->set_pod("web-a");
  req.mutable_options()->set_script("trace handleSlash main.go:10\n");
  const int64_t rss_before = RssBytes();
  auto reader = stub_->Trace(ctx.get(), req);
  v1::Event e;
  ASSERT_TRUE(reader->Read(&e));  // the first progress notice: the call is set up
  // Not reading now. Wait until the agent's writes stop advancing (bounded: 10 s).
  int64_t written = -1;
  for (int i = 0; i < 100; ++i) {
    absl::SleepFor(absl::Milliseconds(100));
    int64_t now = f_->agent_a().hits_written();
    if (now == written && now > 0) break;
    written = now;
  }
  const int64_t rss_stalled = RssBytes();
  EXPECT_GT(written, 0);
  EXPECT_LT(written, kHits / 2) << "the agent wrote on although the client read nothing";
  EXPECT_LT(rss_stalled - rss_before, int64_t{40} << 20)
      << "memory grew by " << (rss_stalled - rss_before) << " bytes for a client reading nothing";
  std::printf("stalled: agent wrote %lld of %d hits, RSS +%lld KiB\n",
              static_cast<long long>(written), kHits,
              static_cast<long long>((rss_stalled - rss_before) >> 10));
  int64_t hits = 0;
  bool in_order = true;
  while (reader->Read(&e)) {
    if (!e.has_hit()) continue;
    ++hits;
    in_order = in_order && e.hit().hit_count() == hits;
    EXPECT_EQ(e.hit().function().size(), kHitBytes);
  }
  EXPECT_TRUE(reader->Finish().ok());
  EXPECT_EQ(hits, kHits);
  EXPECT_TRUE(in_order);
}

TEST_F(ControllerIntegrationTest, AttachThenTunnelRelaysBytesBothWays) {
  auto actx = ControllerFixture::Context("t-alice");
  v1::ControllerAttachRequest areq;
  areq.mutable_target()->set_namespace_("default");
  areq.mutable_target()->set_pod("web-a");
  auto attach = stub_->Attach(actx.get(), areq);
  v1::Event e;
  std::string session;
  while (attach->Read(&e)) {
    if (e.has_notice() && e.notice().kind() == kdbg::v1::NOTICE_KIND_READY) {
      session = e.session_id();
      break;
    }
  }
  ASSERT_FALSE(session.empty());

  // Another user may not use alice's session.
  {
    auto tctx = ControllerFixture::Context("t-bob");
    auto tunnel = stub_->Tunnel(tctx.get());
    v1::TunnelFrame first;
    first.set_session_id(session);
    tunnel->Write(first);
    tunnel->WritesDone();
    v1::TunnelFrame in;
    EXPECT_FALSE(tunnel->Read(&in));
    EXPECT_EQ(tunnel->Finish().error_code(), grpc::StatusCode::PERMISSION_DENIED);
  }

  auto tctx = ControllerFixture::Context("t-alice");
  auto tunnel = stub_->Tunnel(tctx.get());
  v1::TunnelFrame first;
  first.set_session_id(session);
  ASSERT_TRUE(tunnel->Write(first));
  for (const char* word : {"hello", "delve"}) {
    v1::TunnelFrame out;
    out.set_data(word);
    ASSERT_TRUE(tunnel->Write(out));
    v1::TunnelFrame in;
    ASSERT_TRUE(tunnel->Read(&in));
    EXPECT_EQ(in.data(), session + ":" + absl::AsciiStrToUpper(word));
  }
  tunnel->WritesDone();
  v1::TunnelFrame in;
  EXPECT_FALSE(tunnel->Read(&in));
  EXPECT_TRUE(tunnel->Finish().ok());

  // kdbg sessions / kdbg stop: alice sees nothing (attach sessions are not listed by this fake),
  // then stop the attach session through the controller.
  actx->TryCancel();
  attach->Finish();
  EXPECT_EQ(f_->agent_a().attaches().size(), 1u);
}

// A network cut between the CLI and the controller (the link goes silent: no FIN, no RST; a
// laptop's VPN dropped) during a trace without hits: the controller's keepalive PINGs to the CLI go
// unanswered, gRPC fails the call, and the controller cancels the agent's call (which ends the
// session and releases the target) within kKeepaliveTime + kKeepaliveTimeout, not at the lease's
// end. The client has no keepalive of its own, and its deadline (sent to the server) is far off.
TEST_F(ControllerIntegrationTest, SilentCutFromTheCliCancelsTheAgentsCallWithinTheKeepalive) {
  AgentScript script;
  script.hits = 0;
  script.end_by_itself = false;
  f_->agent_a().set_script(script);
  TcpProxy proxy(f_->controller_port());
  auto stub = f_->NewStubAt(proxy.port());
  grpc::ClientContext ctx;
  ctx.AddMetadata("authorization", "Bearer t-alice");
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(300));
  v1::ControllerTraceRequest req;
  req.mutable_target()->set_namespace_("default");
  req.mutable_target()->set_pod("web-a");
  req.mutable_options()->set_script("trace handleSlash main.go:10\n");
  auto reader = stub->Trace(&ctx, req);
  v1::Event e;
  bool armed = false;
  while (!armed && reader->Read(&e)) armed = e.has_armed();
  ASSERT_TRUE(armed);
  ASSERT_EQ(f_->agent_a().active(), 1);
  const absl::Time cut = kdbg::MonotonicNow();
  proxy.Freeze();
  EXPECT_EQ(f_->agent_a().AwaitCancelled(1, absl::Seconds(45)), 1)
      << "the agent's call outlived a silent CLI by 45 s";
  const absl::Duration took = kdbg::MonotonicNow() - cut;
  std::printf("the agent's call was cancelled %.1f s after the cut\n", absl::ToDoubleSeconds(took));
  EXPECT_LE(took, kKeepaliveTime * 2 + kKeepaliveTimeout + absl::Seconds(5));
  ctx.TryCancel();
  proxy.Sever();
  while (reader->Read(&e)) {
  }
  reader->Finish();
}

TEST_F(ControllerIntegrationTest, ListAndStopSessions) {
  AgentScript script;
  script.hits = 0;
  script.end_by_itself = false;
  f_->agent_b().set_script(script);
  auto ctx = ControllerFixture::Context("t-alice");
  v1::ControllerTraceRequest req;
  req.mutable_target()->set_namespace_("default");
  req.mutable_target()->set_pod("web-b");
  req.mutable_options()->set_script("trace handleSlash main.go:10\n");
  auto reader = stub_->Trace(ctx.get(), req);
  v1::Event e;
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(reader->Read(&e));
  const std::string id = e.session_id();

  v1::ControllerListSessionsRequest lreq;
  lreq.set_namespace_("default");
  v1::ControllerListSessionsResponse lresp;
  auto lctx = ControllerFixture::Context("t-alice");
  ASSERT_TRUE(stub_->ListSessions(lctx.get(), lreq, &lresp).ok());
  ASSERT_EQ(lresp.sessions_size(), 1);
  EXPECT_EQ(lresp.sessions(0).info().id(), id);
  EXPECT_EQ(lresp.sessions(0).node_name(), "node-b");

  lresp.Clear();
  auto bctx = ControllerFixture::Context("t-bob");
  lreq.set_all_namespaces(true);
  ASSERT_TRUE(stub_->ListSessions(bctx.get(), lreq, &lresp).ok());
  EXPECT_EQ(lresp.sessions_size(), 0) << "bob may list in no namespace";

  v1::ControllerStopSessionRequest sreq;
  sreq.set_session_id(id);
  v1::ControllerStopSessionResponse sresp;
  auto sbctx = ControllerFixture::Context("t-bob");
  EXPECT_EQ(stub_->StopSession(sbctx.get(), sreq, &sresp).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  auto sctx = ControllerFixture::Context("t-alice");
  ASSERT_TRUE(stub_->StopSession(sctx.get(), sreq, &sresp).ok());
  EXPECT_EQ(sresp.ended().reason(), v1::END_REASON_STOP_REQUESTED);
  while (reader->Read(&e)) {
  }
  EXPECT_EQ(e.ended().reason(), v1::END_REASON_STOP_REQUESTED);
  EXPECT_TRUE(reader->Finish().ok());

  v1::ControllerVersionResponse vresp;
  auto vctx = ControllerFixture::Context("t-alice");
  ASSERT_TRUE(stub_->Version(vctx.get(), v1::ControllerVersionRequest(), &vresp).ok());
  EXPECT_EQ(vresp.controller().component(), "kdbg-controller");
  EXPECT_EQ(vresp.agents_size(), 2);
}

// `--debug-binary`: authorized and capped from the header alone, then relayed in chunks.
class ControllerUploadTest : public ControllerIntegrationTest {
 protected:
  grpc::Status Upload(const std::string& token, const std::string& pod, int64_t announced,
                      int64_t send, size_t chunk, v1::DebugBinaryUploaded* resp,
                      FakeAgent* cancel_midway = nullptr,
                      v1::SessionMode mode = v1::SESSION_MODE_TRACE) {
    auto ctx = ControllerFixture::Context(token);
    auto w = stub_->UploadDebugBinary(ctx.get(), resp);
    v1::ControllerDebugBinaryChunk c;
    c.mutable_target()->set_namespace_("default");
    c.mutable_target()->set_pod(pod);
    c.mutable_header()->set_file_name("app.debug");
    c.mutable_header()->set_size(announced);
    c.set_mode(mode);
    const int calls_before = cancel_midway != nullptr ? cancel_midway->calls() : 0;
    bool ok = w->Write(c);
    const auto step = static_cast<int64_t>(chunk);
    for (int64_t sent = 0; ok && sent < send; sent += step) {
      if (cancel_midway != nullptr && sent >= send / 2) {
        // Cancel only once the controller has opened the agent's call: a cancel that overtakes it
        // (a loaded machine) rightly never reaches the agent, and there is nothing to observe.
        for (int i = 0; i < 1000 && cancel_midway->calls() == calls_before; ++i) {
          absl::SleepFor(absl::Milliseconds(10));
        }
        ctx->TryCancel();
        break;
      }
      v1::ControllerDebugBinaryChunk d;
      d.set_data(std::string(static_cast<size_t>(std::min(step, send - sent)), 'x'));
      ok = w->Write(d);
    }
    if (ok && !cancel_midway) w->WritesDone();
    return w->Finish();
  }
};

TEST_F(ControllerUploadTest, ChunksReachThePodsAgentWithUserTargetAndCap) {
  v1::DebugBinaryUploaded resp;
  const int64_t size = 3 * (1 << 20) + 12345;  // several chunks, the last one short
  grpc::Status st = Upload("t-alice", "web-b", size, size, 1 << 20, &resp);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(resp.upload_id(), "upload-1");
  EXPECT_EQ(f_->agent_a().calls(), 0);
  auto ups = f_->agent_b().uploads();
  ASSERT_EQ(ups.size(), 1u);
  EXPECT_EQ(ups[0].first.target().container_id(), "containerd://" + std::string(64, 'a'));
  EXPECT_EQ(ups[0].first.user(), "alice");
  EXPECT_EQ(ups[0].first.header().file_name(), "app.debug");
  EXPECT_EQ(ups[0].first.header().size(), size);
  EXPECT_EQ(ups[0].first.max_size(), int64_t{512} << 20);
  EXPECT_TRUE(ups[0].first.data().empty());
  EXPECT_EQ(ups[0].bytes, size);
  EXPECT_LE(ups[0].largest_chunk, size_t{1} << 20);
  auto lines = AuditLines(1);
  ASSERT_GE(lines.size(), 1u);
  EXPECT_EQ(lines[0]["rpc"], "upload-debug-binary");
  EXPECT_EQ(lines[0]["decision"], "allowed");

  // The session then names the upload; the agent gets it.
  auto ctx = ControllerFixture::Context("t-alice");
  v1::ControllerTraceRequest req;
  req.mutable_target()->set_namespace_("default");
  req.mutable_target()->set_pod("web-b");
  req.mutable_options()->set_script("trace handleSlash main.go:10\n");
  req.set_debug_binary_id(resp.upload_id());
  auto reader = stub_->Trace(ctx.get(), req);
  v1::Event e;
  while (reader->Read(&e)) {
  }
  ASSERT_TRUE(reader->Finish().ok());
  ASSERT_EQ(f_->agent_b().traces().size(), 1u);
  EXPECT_EQ(f_->agent_b().traces()[0].debug_binary_id(), "upload-1");
}

// An upload for an attach the policy refuses is refused from its header: no byte reaches an agent.
TEST_F(ControllerUploadTest, AnUploadForAnAttachThePolicyRefusesIsRefusedFromItsHeader) {
  ControllerFixtureOptions o;
  o.policy.attach = AttachRule::kRbac;
  Restart(o);
  v1::DebugBinaryUploaded resp;
  grpc::Status st =
      Upload("t-alice", "web-a", 4096, 4096, 1024, &resp, nullptr, v1::SESSION_MODE_ATTACH);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(st.error_message(), HasSubstr("debugsessions.kdbg.io/attach \"web-a\""));
  EXPECT_EQ(f_->agent_a().calls(), 0);
  EXPECT_TRUE(f_->agent_a().uploads().empty());
  // The same upload for a trace goes through: alice may trace.
  st = Upload("t-alice", "web-a", 4096, 4096, 1024, &resp);
  EXPECT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(f_->agent_a().uploads().size(), 1u);
}

TEST_F(ControllerUploadTest, RefusedBeforeAnyByteReachesAnAgent) {
  v1::DebugBinaryUploaded resp;
  grpc::Status denied = Upload("t-bob", "web-a", 4096, 4096, 1024, &resp);
  EXPECT_EQ(denied.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  grpc::Status nobody = Upload("", "web-a", 4096, 4096, 1024, &resp);
  EXPECT_EQ(nobody.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  grpc::Status huge = Upload("t-alice", "web-a", (int64_t{512} << 20) + 1, 4096, 1024, &resp);
  EXPECT_EQ(huge.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(huge.error_message(),
              HasSubstr("larger than the kdbg policy's cap of 512 MiB (maxDebugBinarySize)"));
  grpc::Status gone = Upload("t-alice", "no-such-pod", 4096, 4096, 1024, &resp);
  EXPECT_EQ(gone.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(f_->agent_a().calls() + f_->agent_b().calls(), 0);
}

TEST_F(ControllerUploadTest, CutOffAndCancelledUploadsReachTheAgentAsSuch) {
  v1::DebugBinaryUploaded resp;
  grpc::Status cut = Upload("t-alice", "web-a", 8192, 4096, 1024, &resp);
  EXPECT_EQ(cut.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(cut.error_message(), "cut off");  // the agent's refusal, unchanged
  grpc::Status cancelled =
      Upload("t-alice", "web-a", 8 << 20, 8 << 20, 1 << 20, &resp, &f_->agent_a());
  EXPECT_EQ(cancelled.error_code(), grpc::StatusCode::CANCELLED);
  std::vector<FakeAgent::Upload> ups;
  for (int i = 0; i < 500; ++i) {
    ups = f_->agent_a().uploads();
    if (ups.size() >= 2) break;
    absl::SleepFor(absl::Milliseconds(10));
  }
  ASSERT_EQ(ups.size(), 2u);
  EXPECT_EQ(ups[0].bytes, 4096);
  EXPECT_FALSE(ups[0].cancelled);
  EXPECT_TRUE(ups[1].cancelled) << "the controller must cancel the agent's call";
  EXPECT_LT(ups[1].bytes, int64_t{8} << 20);
}

}  // namespace
}  // namespace kdbg::controller::testing
