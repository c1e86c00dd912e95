// Sessions over several pods (ControllerTraceRequest.pods) through the real controller over gRPC
// and TLS: one part per pod on that pod's node's fake agent, merged into one stream.
#include <map>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "controller/testing/pods.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/controller/controller_fixture.h"
#include "tests/support/test_env.h"

namespace kdbg::controller::testing {
namespace {

using ::testing::HasSubstr;

struct Merged {
  std::vector<v1::Event> events;
  grpc::Status status;
  // Per pod: the events carrying it.
  std::vector<v1::Event> Of(const std::string& pod) const {
    std::vector<v1::Event> out;
    for (const v1::Event& e : events) {
      if (e.pod() == pod) out.push_back(e);
    }
    return out;
  }
  int Hits() const {
    int n = 0;
    for (const v1::Event& e : events) {
      n += e.has_hit() ? 1 : 0;
      for (const v1::Event& b : e.batch().events()) n += b.has_hit() ? 1 : 0;
    }
    return n;
  }
};

class FanoutTest : public ::testing::Test {
 protected:
  void Start(const ControllerFixtureOptions& options = {}) {
    auto f = ControllerFixture::Start(options);
    KDBG_REQUIRE_REAL(f.ok(), "openssl and loopback addresses 127.0.0.2/.3: " +
                                  std::string(f.ok() ? "" : f.status().message()));
    f_ = std::move(*f);
    stub_ = f_->NewStub();
    // web-d may not be debugged by alice: one SubjectAccessReview per pod says so.
    f_->kube().AddPod(RunningPod("default", "web-d", "node-a"));
    kube::AccessRule deny;
    deny.name = "deny-web-d";
    deny.users = {"alice"};
    deny.verbs = {"create"};
    deny.api_groups = {"kdbg.io"};
    deny.resources = {"debugsessions"};
    deny.resource_names = {"web-d"};
    deny.deny = true;
    deny.deny_reason = "web-d handles payments";
    f_->kube().AddRule(deny);
  }

  v1::ControllerTraceRequest Request(const std::vector<std::string>& pods, int64_t max_hits = 0) {
    v1::ControllerTraceRequest req;
    req.mutable_target()->set_namespace_("default");
    for (const std::string& p : pods) req.add_pods(p);
    req.set_selection("-l app=web");
    req.mutable_options()->set_script("trace handleSlash main.go:10\n");
    req.mutable_options()->set_max_hits(max_hits);
    return req;
  }

  Merged Run(const v1::ControllerTraceRequest& req, grpc::ClientContext* ctx,
             const std::function<void(const v1::Event&)>& on_event = nullptr) {
    auto reader = stub_->Trace(ctx, req);
    Merged m;
    v1::Event e;
    while (reader->Read(&e)) {
      m.events.push_back(e);
      if (on_event) on_event(e);
    }
    m.status = reader->Finish();
    return m;
  }

  // web-a and web-b traced by alice, web-a's agent following `a` and web-b's reporting one hit.
  Merged RunWithAgentA(const AgentScript& a) {
    Start();
    f_->agent_a().set_script(a);
    AgentScript one_hit;
    one_hit.hits = 1;
    f_->agent_b().set_script(one_hit);
    auto ctx = ControllerFixture::Context("t-alice");
    return Run(Request({"web-a", "web-b"}), ctx.get());
  }

  // An agent whose parts arm and then run until stopped or cancelled.
  static AgentScript UntilStopped() {
    AgentScript script;
    script.hits = 0;
    script.end_by_itself = false;
    return script;
  }
  // Runs `req` on a thread until every part armed (the session's ID in session_); Join() returns
  // the stream. `on_event` sees each event too (on that thread).
  // The fixture owns the call's context, so a test that fails before Join() can still cancel
  // it in TearDown; `on_event` must outlive the call for the same reason (a fixture member, or
  // state the test keeps alive until Join()).
  void StartArmed(const v1::ControllerTraceRequest& req, std::unique_ptr<grpc::ClientContext> owned,
                  const std::function<void(const v1::Event&)>& on_event = nullptr) {
    bg_ctx_ = std::move(owned);
    grpc::ClientContext* ctx = bg_ctx_.get();
    bg_ = std::thread([this, req, ctx, on_event] {
      bg_result_ = Run(req, ctx, [&](const v1::Event& e) {
        {
          absl::MutexLock lock(&bg_mu_);
          session_ = e.session_id();
        }
        if (e.has_armed()) ++bg_armed_;
        if (on_event) on_event(e);
      });
    });
    for (int i = 0; i < 500 && bg_armed_.load() < req.pods_size(); ++i) {
      absl::SleepFor(absl::Milliseconds(10));
    }
    ASSERT_EQ(bg_armed_.load(), req.pods_size());
  }
  void TearDown() override {
    if (!bg_.joinable()) return;  // a test that failed before Join()
    bg_ctx_->TryCancel();
    bg_.join();
  }
  Merged Join() {
    bg_.join();
    return bg_result_;
  }
  std::string Session() {
    absl::MutexLock lock(&bg_mu_);
    return session_;
  }
  // `kdbg stop ID` as alice.
  v1::ControllerStopSessionResponse Stop(const std::string& id) {
    v1::ControllerStopSessionRequest sreq;
    sreq.set_session_id(id);
    v1::ControllerStopSessionResponse sresp;
    auto sctx = ControllerFixture::Context("t-alice");
    grpc::Status st = stub_->StopSession(sctx.get(), sreq, &sresp);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return sresp;
  }
  // Part session -> its audited session-end line, once `n` parts have one.
  std::map<std::string, nlohmann::json> AuditedEnds(size_t n) {
    std::map<std::string, nlohmann::json> ends;
    for (int i = 0; i < 500 && ends.size() < n; ++i) {
      ends.clear();
      for (const auto& l : f_->AuditLines()) {
        if (l["kind"] == "session-end") ends[l["session"]] = l;
      }
      absl::SleepFor(absl::Milliseconds(10));
    }
    return ends;
  }

  void WaitIdle() {
    for (int i = 0; i < 500 && f_->service().ActiveSessions() > 0; ++i) {
      absl::SleepFor(absl::Milliseconds(10));
    }
    EXPECT_EQ(f_->service().ActiveSessions(), 0);
  }

  std::unique_ptr<ControllerFixture> f_;
  std::unique_ptr<v1::Controller::Stub> stub_;
  std::thread bg_;
  std::unique_ptr<grpc::ClientContext> bg_ctx_;
  std::atomic<int> bg_armed_{0};
  Merged bg_result_;
  absl::Mutex bg_mu_;
  std::string session_ ABSL_GUARDED_BY(bg_mu_);
};

TEST_F(FanoutTest, OnePartPerPodOnItsNodesAgentMergedAndSummarized) {
  Start();
  auto ctx = ControllerFixture::Context("t-alice");
  Merged m = Run(Request({"web-a", "web-b", "web-c", "web-d"}), ctx.get());
  ASSERT_TRUE(m.status.ok()) << m.status.error_message();

  // Each agent got exactly its node's pod, as part <id>-<n> of one session.
  auto a = f_->agent_a().traces();
  auto b = f_->agent_b().traces();
  ASSERT_EQ(a.size(), 1u);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(a[0].target().pod_name(), "web-a");
  EXPECT_EQ(b[0].target().pod_name(), "web-b");
  const std::string id = m.events.front().session_id();
  ASSERT_FALSE(id.empty());
  EXPECT_EQ(a[0].session_id(), id + "-1");
  EXPECT_EQ(b[0].session_id(), id + "-2");
  for (const v1::Event& e : m.events) EXPECT_EQ(e.session_id(), id) << e.DebugString();

  // Every event of a part carries its pod: armed, hit, ended for the two that ran.
  for (const std::string pod : {"web-a", "web-b"}) {
    auto ev = m.Of(pod);
    int armed = 0, hits = 0, ended = 0;
    for (const v1::Event& e : ev) {
      armed += e.has_armed();
      hits += e.has_hit();
      ended += e.has_ended();
    }
    EXPECT_EQ(armed, 1) << pod;
    EXPECT_EQ(hits, 1) << pod;
    EXPECT_EQ(ended, 1) << pod;
  }
  // The two that could not run: one failed line each, with the reason as one word.
  auto failed = [&](const std::string& pod) {
    for (const v1::Event& e : m.Of(pod)) {
      if (e.has_error()) return e.error();
    }
    ADD_FAILURE() << "no failed line for " << pod;
    return v1::ErrorEvent();
  };
  EXPECT_EQ(failed("web-c").failure(), "no-agent");
  EXPECT_EQ(failed("web-d").failure(), "denied");
  EXPECT_EQ(failed("web-d").code(), "PERMISSION_DENIED");
  EXPECT_THAT(failed("web-d").message(), HasSubstr("web-d handles payments"));

  // The closing summary: the last event, no pod, per pod how it ended.
  const v1::Event& last = m.events.back();
  ASSERT_TRUE(last.has_ended());
  EXPECT_TRUE(last.pod().empty());
  const v1::EndedEvent& s = last.ended();
  EXPECT_EQ(s.hits(), 2);
  EXPECT_EQ(s.reason(), v1::END_REASON_MAX_HITS);  // what both parts ended by
  ASSERT_EQ(s.pods_size(), 4);
  EXPECT_EQ(s.pods(0).pod(), "web-a");
  EXPECT_EQ(s.pods(0).outcome(), "ended");
  EXPECT_EQ(s.pods(0).node(), "node-a");
  EXPECT_EQ(s.pods(0).hits(), 1);
  EXPECT_EQ(s.pods(0).session_id(), id + "-1");
  EXPECT_EQ(s.pods(1).outcome(), "ended");
  EXPECT_EQ(s.pods(2).outcome(), "failed");
  EXPECT_EQ(s.pods(2).failure(), "no-agent");
  EXPECT_EQ(s.pods(3).failure(), "denied");
  EXPECT_EQ(s.message(), "4 pods: 2 ended, 2 failed; every target running, detached");

  // Audit: a decision per pod, a session end per part that ran; Events on the pods that ran.
  std::vector<nlohmann::json> lines;
  for (int i = 0; i < 500 && lines.size() < 6; ++i) {
    lines = f_->AuditLines();
    absl::SleepFor(absl::Milliseconds(10));
  }
  int allowed = 0, denied = 0, errors = 0, ends = 0;
  for (const auto& l : lines) {
    if (l["kind"] == "session-end") ++ends;
    if (l["decision"] == "allowed") ++allowed;
    if (l["decision"] == "denied") ++denied;
    if (l["decision"] == "error") ++errors;
  }
  EXPECT_EQ(allowed, 2);
  EXPECT_EQ(denied, 1);
  EXPECT_EQ(errors, 1);  // web-c: no agent on node-c
  EXPECT_EQ(ends, 2);
  WaitIdle();
}

TEST_F(FanoutTest, PolicyCapRefusesAboveItNamingMaxPods) {
  ControllerFixtureOptions o;
  o.policy.max_pods_per_session = 2;
  Start(o);
  auto ctx = ControllerFixture::Context("t-alice");
  Merged m = Run(Request({"web-a", "web-b", "web-c"}), ctx.get());
  EXPECT_EQ(m.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(m.status.error_message(), HasSubstr("-l app=web has 3 running pods"));
  EXPECT_THAT(m.status.error_message(), HasSubstr("--max-pods N"));
  EXPECT_EQ(f_->agent_a().calls() + f_->agent_b().calls(), 0);
  WaitIdle();
}

TEST_F(FanoutTest, TotalMaxHitsEndsEveryPartAndCountsOnlyThatMany) {
  Start();
  AgentScript script;
  script.hits = 50;
  script.hit_interval_ms = 5;
  script.end_by_itself = false;  // runs until stopped
  f_->agent_a().set_script(script);
  f_->agent_b().set_script(script);
  auto ctx = ControllerFixture::Context("t-alice");
  Merged m = Run(Request({"web-a", "web-b"}, /*max_hits=*/7), ctx.get());
  ASSERT_TRUE(m.status.ok()) << m.status.error_message();
  EXPECT_EQ(m.Hits(), 7);
  const v1::EndedEvent& s = m.events.back().ended();
  EXPECT_EQ(s.reason(), v1::END_REASON_MAX_HITS);
  EXPECT_EQ(s.hits(), 7);
  EXPECT_EQ(s.pods(0).hits() + s.pods(1).hits(), 7);
  // Both parts ended by the agents' own stop (not by a cancelled call).
  EXPECT_EQ(s.pods(0).reason(), v1::END_REASON_STOP_REQUESTED);
  EXPECT_EQ(s.pods(1).reason(), v1::END_REASON_STOP_REQUESTED);
  EXPECT_EQ(f_->agent_a().cancelled() + f_->agent_b().cancelled(), 0);
  WaitIdle();
}

// The total reached, agent A cannot stop its part (StopSession fails): the relay cancels that
// part's agent call (the agent's safe end on a lost client) instead of leaving it tracing until
// the CLI, the duration or the lease ends it; the part ends MAX_HITS, in the stream and the audit.
TEST_F(FanoutTest, TotalMaxHitsCancelsAPartItsAgentCannotStop) {
  Start();
  AgentScript script;
  script.hits = 50;
  script.hit_interval_ms = 5;
  script.end_by_itself = false;  // runs until stopped or cancelled
  AgentScript failing = script;
  failing.stop_fails = true;
  f_->agent_a().set_script(failing);
  f_->agent_b().set_script(script);
  auto ctx = ControllerFixture::Context("t-alice");
  // Without the fallback part A runs until this deadline.
  ctx->set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(20)));
  Merged m = Run(Request({"web-a", "web-b"}, /*max_hits=*/7), ctx.get());
  ASSERT_TRUE(m.status.ok()) << m.status.error_message();
  EXPECT_EQ(m.Hits(), 7);
  EXPECT_EQ(f_->agent_a().AwaitCancelled(1, absl::Seconds(5)), 1);
  // Part B ended by its stop, never by a cancel, however late a cancel would arrive.
  EXPECT_EQ(f_->agent_b().AwaitCancelled(1, absl::Milliseconds(300)), 0);
  const v1::EndedEvent& s = m.events.back().ended();
  EXPECT_EQ(s.reason(), v1::END_REASON_MAX_HITS);
  ASSERT_EQ(s.pods_size(), 2);
  EXPECT_EQ(s.pods(0).outcome(), "ended");
  EXPECT_EQ(s.pods(0).reason(), v1::END_REASON_MAX_HITS);
  EXPECT_THAT(s.pods(0).message(), HasSubstr("StopSession fails"));
  EXPECT_THAT(s.pods(0).message(), HasSubstr("its call was cancelled"));
  EXPECT_EQ(s.pods(1).reason(), v1::END_REASON_STOP_REQUESTED);
  // The stream has web-a's own ended line.
  int a_ended = 0;
  for (const v1::Event& e : m.Of("web-a")) {
    if (e.has_ended()) {
      ++a_ended;
      EXPECT_EQ(e.ended().reason(), v1::END_REASON_MAX_HITS);
    }
  }
  EXPECT_EQ(a_ended, 1);
  WaitIdle();
  const std::string id = m.events.back().session_id();
  auto ends = AuditedEnds(2);
  EXPECT_EQ(ends[id + "-1"]["end_reason"], "END_REASON_MAX_HITS");
  EXPECT_EQ(ends[id + "-2"]["end_reason"], "END_REASON_STOP_REQUESTED");
}

TEST_F(FanoutTest, StopSessionStopsEveryPart) {
  Start();
  f_->agent_a().set_script(UntilStopped());
  f_->agent_b().set_script(UntilStopped());
  StartArmed(Request({"web-a", "web-b"}), ControllerFixture::Context("t-alice"));
  v1::ControllerStopSessionResponse sresp = Stop(Session());
  Merged m = Join();
  EXPECT_EQ(sresp.ended().reason(), v1::END_REASON_STOP_REQUESTED);
  EXPECT_EQ(sresp.ended().pods_size(), 2);
  ASSERT_TRUE(m.status.ok()) << m.status.error_message();
  EXPECT_EQ(m.events.back().ended().reason(), v1::END_REASON_STOP_REQUESTED);
  EXPECT_EQ(m.events.back().ended().pods_size(), 2);
  WaitIdle();
}

// `kdbg stop SESSION` while agent A cannot stop its part (StopSession fails): as at the total hit
// limit, the relay cancels that part's agent call (the agent's safe end on a lost client) instead
// of leaving it tracing until Ctrl-C, --duration or the lease; the part ends STOP_REQUESTED, saying
// so, in the stop's answer, the stream and the audit.
TEST_F(FanoutTest, StopSessionCancelsAPartItsAgentCannotStop) {
  Start();
  AgentScript failing = UntilStopped();
  failing.stop_fails = true;
  f_->agent_a().set_script(failing);
  f_->agent_b().set_script(UntilStopped());
  auto ctx = ControllerFixture::Context("t-alice");
  // Without the fallback part A runs until this deadline.
  ctx->set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(20)));
  StartArmed(Request({"web-a", "web-b"}), std::move(ctx));
  const std::string id = Session();
  v1::ControllerStopSessionResponse sresp = Stop(id);
  Merged m = Join();
  // The stop's answer: both parts stopped, A by its cancelled call.
  ASSERT_EQ(sresp.ended().pods_size(), 2);
  EXPECT_EQ(sresp.ended().pods(0).pod(), "web-a");
  EXPECT_EQ(sresp.ended().pods(0).reason(), v1::END_REASON_STOP_REQUESTED);
  EXPECT_THAT(sresp.ended().pods(0).message(), HasSubstr("StopSession fails"));
  EXPECT_THAT(sresp.ended().pods(0).message(), HasSubstr("its call was cancelled"));
  EXPECT_EQ(sresp.ended().pods(1).reason(), v1::END_REASON_STOP_REQUESTED);
  // The stream ended at once, not at the deadline. The fake agent sees its call cancelled a
  // moment after the controller ends the stream: wait for it (bounded).
  ASSERT_TRUE(m.status.ok()) << m.status.error_message();
  EXPECT_EQ(f_->agent_a().AwaitCancelled(1, absl::Seconds(5)), 1);
  // Part B ended by its stop, never by a cancel, however late a cancel would arrive.
  EXPECT_EQ(f_->agent_b().AwaitCancelled(1, absl::Milliseconds(300)), 0);
  const v1::EndedEvent& s = m.events.back().ended();
  EXPECT_EQ(s.reason(), v1::END_REASON_STOP_REQUESTED);
  ASSERT_EQ(s.pods_size(), 2);
  EXPECT_EQ(s.pods(0).outcome(), "ended");
  EXPECT_EQ(s.pods(0).reason(), v1::END_REASON_STOP_REQUESTED);
  EXPECT_THAT(s.pods(0).message(), HasSubstr("stopped on request (kdbg stop)"));
  EXPECT_THAT(s.pods(0).message(), HasSubstr("its call was cancelled"));
  EXPECT_EQ(s.pods(1).reason(), v1::END_REASON_STOP_REQUESTED);
  WaitIdle();
  auto ends = AuditedEnds(2);
  EXPECT_EQ(ends[id + "-1"]["end_reason"], "END_REASON_STOP_REQUESTED");
  EXPECT_EQ(ends[id + "-2"]["end_reason"], "END_REASON_STOP_REQUESTED");
}

// `kdbg stop SESSION-2` stops that part alone, through the relay; the other goes on. A part
// whose end the CLI has seen is not running, even while its agent call is still closing (web-b's
// lingers 1.5 s; CI's c37 saw the second stop list web-b too, once, under load).
TEST_F(FanoutTest, StopOfOnePartStopsItAlone) {
  Start();
  f_->agent_a().set_script(UntilStopped());
  AgentScript lingering = UntilStopped();
  lingering.linger_after_end_ms = 1500;
  f_->agent_b().set_script(lingering);
  auto ended_b = std::make_shared<std::atomic<int>>(0);  // outlives a test that fails early
  StartArmed(Request({"web-a", "web-b"}), ControllerFixture::Context("t-alice"),
             [ended_b](const v1::Event& e) {
               if (e.has_ended() && e.pod() == "web-b") ++*ended_b;
             });
  v1::ControllerStopSessionResponse one = Stop(Session() + "-2");
  ASSERT_EQ(one.ended().pods_size(), 1);
  EXPECT_EQ(one.ended().pods(0).pod(), "web-b");
  for (int i = 0; i < 500 && ended_b->load() == 0; ++i) absl::SleepFor(absl::Milliseconds(10));
  EXPECT_EQ(ended_b->load(), 1);
  EXPECT_EQ(f_->agent_a().stop_requests().size(), 0u);  // web-a still tracing
  v1::ControllerStopSessionResponse rest = Stop(Session());
  ASSERT_EQ(rest.ended().pods_size(), 1);  // only web-a was still running
  EXPECT_EQ(rest.ended().pods(0).pod(), "web-a");
  Merged m = Join();
  ASSERT_TRUE(m.status.ok()) << m.status.error_message();
  EXPECT_EQ(m.events.back().ended().reason(), v1::END_REASON_STOP_REQUESTED);
  WaitIdle();
}

// The session's --max-hits stops only the parts still running, as `kdbg stop` does: web-b sent
// its hit and its end, and its call stays open 1.5 s more; the limit, reached by web-a's hits
// meanwhile, asks web-a's agent alone to stop.
TEST_F(FanoutTest, MaxHitsStopsOnlyThePartsStillRunning) {
  Start();
  AgentScript a = UntilStopped();
  a.hits = 2;
  a.hit_interval_ms = 300;
  f_->agent_a().set_script(a);
  AgentScript b;
  b.hits = 1;
  b.linger_after_end_ms = 1500;
  f_->agent_b().set_script(b);
  auto ctx = ControllerFixture::Context("t-alice");
  Merged m = Run(Request({"web-a", "web-b"}, /*max_hits=*/3), ctx.get());
  ASSERT_TRUE(m.status.ok()) << m.status.error_message();
  EXPECT_EQ(m.Hits(), 3);
  EXPECT_EQ(f_->agent_a().stop_requests().size(), 1u);
  EXPECT_EQ(f_->agent_b().stop_requests().size(), 0u);
  WaitIdle();
}

// --rate-limit-total over two pods whose hits exceed it. The fixture's controller clock stands
// still, so the relay's bucket holds its first second's worth and never refills: exactly that many
// hits are relayed, every other one is counted, said in notices and in the summary, per pod and
// in all (every hit either relayed or counted).
TEST_F(FanoutTest, TotalRateRelaysAtMostItOverEveryPodAndCountsTheRest) {
  Start();
  AgentScript script;
  script.hits = 30;
  f_->agent_a().set_script(script);
  f_->agent_b().set_script(script);
  auto ctx = ControllerFixture::Context("t-alice");
  v1::ControllerTraceRequest req = Request({"web-a", "web-b"});
  req.set_max_hits_per_second_total(10);
  Merged m = Run(req, ctx.get());
  ASSERT_TRUE(m.status.ok()) << m.status.error_message();
  EXPECT_EQ(m.Hits(), 10);
  int64_t noticed = 0;
  bool announced = false;
  for (const v1::Event& e : m.events) {
    announced = announced ||
                absl::StrContains(e.notice().message(), "at most 10 hits/s relayed over every pod");
    if (e.notice().kind() != v1::NOTICE_KIND_TOTAL_RATE_LIMITED) continue;
    EXPECT_TRUE(e.pod().empty());
    EXPECT_THAT(e.notice().message(), HasSubstr("not relayed: over the session's total rate of 10 "
                                                "hits/s (--rate-limit-total"));
    int64_t n = 0;
    ASSERT_TRUE(
        absl::SimpleAtoi(e.notice().message().substr(0, e.notice().message().find(' ')), &n))
        << e.notice().message();
    noticed += n;
  }
  EXPECT_TRUE(announced);
  EXPECT_EQ(noticed, 50);
  const v1::EndedEvent& s = m.events.back().ended();
  EXPECT_EQ(s.hits(), 10);
  EXPECT_EQ(s.hits_over_total_rate(), 50);
  ASSERT_EQ(s.pods_size(), 2);
  EXPECT_EQ(s.pods(0).hits() + s.pods(1).hits(), 10);
  EXPECT_EQ(s.pods(0).hits_over_total_rate() + s.pods(1).hits_over_total_rate(), 50);
  EXPECT_EQ(s.pods(0).hits() + s.pods(0).hits_over_total_rate(), 30);
  EXPECT_THAT(s.message(), HasSubstr("50 hits not relayed: over the total rate of 10 hits/s"));
  // Each agent's own limit is untouched: they got no rate from the total.
  for (const auto& t : f_->agent_a().traces()) EXPECT_EQ(t.options().max_hits_per_second(), 0);
  WaitIdle();
}

// A part whose agent is killed mid-trace (its stream breaks, UNAVAILABLE, no EndedEvent): as for
// one pod, the controller asks that node's agent, while it restarts, how the part ended; the end
// the guardian recorded (RECOVERED) is the part's, in the stream, the summary and the audit, and
// the other part is untouched.
TEST_F(FanoutTest, AgentKilledMidTraceIsAuditedAsItsGuardianEndedThePart) {
  const AgentScript dying = KilledMidTrace();
  Merged m = RunWithAgentA(dying);
  ASSERT_TRUE(m.status.ok()) << m.status.error_message();
  int a_ended = 0;
  bool told = false;
  for (const v1::Event& e : m.Of("web-a")) {
    told = told || absl::StrContains(e.notice().message(), "asking the kdbg agent on node node-a");
    EXPECT_FALSE(e.has_error()) << e.DebugString();
    if (!e.has_ended()) continue;
    ++a_ended;
    EXPECT_EQ(e.ended().reason(), v1::END_REASON_RECOVERED);
    EXPECT_EQ(e.ended().hits(), 2);
    EXPECT_EQ(e.ended().message(), dying.recovered_message);
  }
  EXPECT_EQ(a_ended, 1);
  EXPECT_TRUE(told);
  const v1::EndedEvent& s = m.events.back().ended();
  ASSERT_EQ(s.pods_size(), 2);
  EXPECT_EQ(s.pods(0).outcome(), "ended");
  EXPECT_EQ(s.pods(0).reason(), v1::END_REASON_RECOVERED);
  EXPECT_EQ(s.pods(0).hits(), 2);
  EXPECT_TRUE(s.pods(0).target_alive());
  EXPECT_EQ(s.pods(1).reason(), v1::END_REASON_MAX_HITS);
  EXPECT_EQ(s.message(), "2 pods: 2 ended; every target running, detached");
  const auto traces = f_->agent_a().traces();
  ASSERT_EQ(traces.size(), 1u);
  EXPECT_EQ(f_->agent_a().stop_requests(), std::vector<std::string>(3, traces[0].session_id()));
  WaitIdle();
  auto ends = AuditedEnds(2);
  ASSERT_EQ(ends.count(traces[0].session_id()), 1u);
  const nlohmann::json& a = ends[traces[0].session_id()];
  EXPECT_EQ(a["end_reason"], "END_REASON_RECOVERED");
  EXPECT_EQ(a["reason"], dying.recovered_message);
  EXPECT_EQ(a["hits"], 2);
}

// The same break with no recorded end: that part's error says its agent was lost mid-session and
// that the agent's side ends it (failure "no-agent"); the other part is untouched.
TEST_F(FanoutTest, APartWhoseAgentIsLostWithoutARecordedEndSaysSo) {
  AgentScript dying;
  dying.die = true;
  Merged m = RunWithAgentA(dying);
  ASSERT_TRUE(m.status.ok()) << m.status.error_message();
  std::vector<std::string> errors;
  for (const v1::Event& e : m.Of("web-a")) {
    if (!e.has_error()) continue;
    errors.push_back(e.error().message());
    EXPECT_EQ(e.error().failure(), "no-agent");
  }
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_THAT(errors[0], ::testing::StartsWith("lost the kdbg agent kdbg-agent-node-a"));
  EXPECT_THAT(errors[0], HasSubstr("check with `kdbg sessions`"));
  const v1::EndedEvent& s = m.events.back().ended();
  ASSERT_EQ(s.pods_size(), 2);
  EXPECT_EQ(s.pods(0).failure(), "no-agent");
  EXPECT_EQ(s.pods(1).reason(), v1::END_REASON_MAX_HITS);
  WaitIdle();
}

TEST_F(FanoutTest, ClientGoneCancelsEveryPart) {
  Start();
  f_->agent_a().set_script(UntilStopped());
  f_->agent_b().set_script(UntilStopped());
  auto ctx = ControllerFixture::Context("t-alice");
  int armed = 0;
  Merged m = Run(Request({"web-a", "web-b"}), ctx.get(), [&](const v1::Event& e) {
    if (e.has_armed() && ++armed == 2) ctx->TryCancel();
  });
  EXPECT_EQ(m.status.error_code(), grpc::StatusCode::CANCELLED);
  EXPECT_EQ(f_->agent_a().AwaitCancelled(1, absl::Seconds(5)), 1);
  EXPECT_EQ(f_->agent_b().AwaitCancelled(1, absl::Seconds(5)), 1);
  WaitIdle();
  // Each part's end is audited, and as the client going away (as a single-pod session's is).
  auto ends = AuditedEnds(2);
  ASSERT_EQ(ends.size(), 2u);
  for (const auto& [session, line] : ends) {
    EXPECT_EQ(line["end_reason"], "END_REASON_CLIENT_GONE") << session;
  }
}

TEST_F(FanoutTest, RefusesBadListsBeforeAnyAgentCall) {
  Start();
  auto ctx = ControllerFixture::Context("t-alice");
  Merged twice = Run(Request({"web-a", "web-a"}), ctx.get());
  EXPECT_EQ(twice.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  auto ctx2 = ControllerFixture::Context("t-alice");
  Merged bad = Run(Request({"web-a", "../etc"}), ctx2.get());
  EXPECT_EQ(bad.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  auto ctx3 = ControllerFixture::Context("t-alice");
  auto req = Request({"web-a"});
  req.mutable_target()->set_namespace_("kube-system");
  Merged prot = Run(req, ctx3.get());
  EXPECT_EQ(prot.status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(f_->agent_a().calls() + f_->agent_b().calls(), 0);
}

}  // namespace
}  // namespace kdbg::controller::testing
