#include "agent/service/session_manager.h"

#include <memory>

#include "absl/strings/str_cat.h"
#include "agent/service/testing/fake_debug_session.h"
#include "agent/service/testing/fake_resolver.h"
#include "agent/service/testing/stream_reader.h"
#include "common/testing/fake_clock.h"
#include "gtest/gtest.h"

namespace kdbg::agent {
namespace {

using testing::FakeDebugSessionFactory;
using testing::FakeResolver;
using testing::StreamReader;
using Kind = EventStream::Item::Kind;

class SessionManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    resolver_.Add("c1", 101);
    resolver_.Add("c2", 102);
    resolver_.Add("c3", 103);
  }
  void Make(int max_sessions = 2, bool allow_host_pid = true) {
    SessionManager::Options o;
    o.allow_host_pid = allow_host_pid;
    o.node_name = "node-a";
    o.max_sessions = max_sessions;
    o.default_lease = absl::Minutes(10);
    o.max_lease = absl::Minutes(30);
    manager_ = std::make_unique<SessionManager>(o, &resolver_, &factory_, &clock_, &metrics_);
  }
  SessionRequest Trace(const std::string& container, const std::string& id = "") {
    SessionRequest r;
    r.mode = kdbg::v1::SESSION_MODE_TRACE;
    r.target.set_container_id(container);
    r.options.set_script(
        "trace handleSlash main.go:10\non handleSlash print r.RemoteAddr\ncontinue\n");
    r.user = "alice";
    r.caller = "CN=kdbg-controller";
    r.session_id = id;
    return r;
  }
  // Reads until the stream's EndedEvent; returns it.
  kdbg::v1::EndedEvent ReadToEnd(StreamReader& reader) {
    for (;;) {
      auto item = reader.Next();
      if (item.kind != Kind::kEvent) {
        ADD_FAILURE() << "stream ended without an EndedEvent";
        return {};
      }
      if (item.event.has_ended()) return item.event.ended();
    }
  }

  FakeResolver resolver_;
  FakeDebugSessionFactory factory_;
  kdbg::testing::FakeClock clock_;
  AgentMetrics metrics_;
  std::unique_ptr<SessionManager> manager_;
};

TEST_F(SessionManagerTest, TraceRunsArmedHitsEndedAndRecordsIt) {
  Make();
  auto s = manager_->Start(Trace("c1", "sess-1"));
  ASSERT_TRUE(s.ok()) << s.status();
  StreamReader reader((*s)->stream());
  auto armed = reader.Next();
  ASSERT_EQ(armed.kind, Kind::kEvent);
  ASSERT_TRUE(armed.event.has_armed());
  EXPECT_EQ(armed.event.session_id(), "sess-1");
  EXPECT_EQ(armed.event.armed().host_pid(), 101);
  ASSERT_TRUE(factory_.InjectHits("sess-1", 3));
  for (int i = 1; i <= 3; ++i) {
    auto hit = reader.Next();
    ASSERT_TRUE(hit.event.has_hit());
    EXPECT_EQ(hit.event.hit().hit_count(), i);
  }
  auto listed = manager_->List();
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].id(), "sess-1");
  EXPECT_EQ(listed[0].host_pid(), 101);
  EXPECT_EQ(listed[0].state(), kdbg::v1::SESSION_STATE_TRACING);
  EXPECT_EQ(listed[0].node_name(), "node-a");
  EXPECT_EQ(listed[0].user(), "alice");
  EXPECT_EQ(listed[0].lease_expiry_unix_nanos() - listed[0].start_unix_nanos(),
            absl::ToInt64Nanoseconds(absl::Minutes(10)));

  (*s)->RequestEnd(kdbg::v1::END_REASON_CLIENT_GONE);
  auto ended = ReadToEnd(reader);
  EXPECT_EQ(ended.reason(), kdbg::v1::END_REASON_CLIENT_GONE);
  EXPECT_EQ(ended.hits(), 3);
  auto fin = reader.Next();
  ASSERT_EQ(fin.kind, Kind::kFinish);
  EXPECT_TRUE(fin.status.ok());
  EXPECT_EQ(manager_->size(), 0);
  EXPECT_EQ(factory_.live(), 0);
  EXPECT_EQ(metrics_.total("trace", "client_gone"), 1);
  EXPECT_EQ(metrics_.active(), 0);
  EXPECT_EQ(metrics_.hits(), 3);
  ASSERT_EQ(factory_.trace_specs().size(), 1u);
  EXPECT_EQ(factory_.trace_specs()[0].pid, 101);
  EXPECT_EQ(factory_.trace_specs()[0].start_time_ticks, 1101u);
}

TEST_F(SessionManagerTest, GoOutsideTheRangeIsRefusedUnlessAllowed) {
  kdbg::v1::ResolvedTarget old;
  old.set_host_pid(104);
  old.set_container_id("old");
  old.set_start_time_ticks(1104);
  old.mutable_binary()->set_go_version("go1.19.8");
  old.mutable_binary()->set_has_dwarf(true);
  old.set_go_supported(false);
  old.set_go_support_problem("built with go1.19.8, outside Go 1.24-1.27");
  old.set_problem(old.go_support_problem());
  old.set_debuggable(false);
  resolver_.AddTarget(old);
  old.set_container_id("old-stripped");
  old.set_host_pid(105);
  old.set_problem("process 105 (/x) has no debug information");
  resolver_.AddTarget(old);
  Make(4);
  auto refused_with = [&](SessionRequest r, const std::string& message) {
    auto s = manager_->Start(std::move(r));
    ASSERT_TRUE(s.ok()) << s.status();
    StreamReader reader((*s)->stream());
    auto err = reader.Next();
    ASSERT_TRUE(err.event.has_error()) << err.event.DebugString();
    EXPECT_EQ(err.event.error().code(), "FAILED_PRECONDITION");
    EXPECT_EQ(err.event.error().message(), message);
    auto fin = reader.Next();
    ASSERT_EQ(fin.kind, Kind::kFinish);
    EXPECT_EQ(fin.status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  };
  // The range is the bundled Delve's: it refuses a session that can only run on Delve.
  SessionRequest on_delve = Trace("old", "s-old-1");
  on_delve.options.set_engine("delve");
  refused_with(on_delve, "pid 104 cannot be debugged: built with go1.19.8, outside Go 1.24-1.27");
  SessionRequest attach = Trace("old", "s-old-4");
  attach.mode = kdbg::v1::SESSION_MODE_ATTACH;
  refused_with(attach, "pid 104 cannot be debugged: built with go1.19.8, outside Go 1.24-1.27");
  EXPECT_EQ(factory_.started(), 0);
  // The override covers the Go version only: another problem still refuses, whatever the engine.
  SessionRequest stripped = Trace("old-stripped", "s-old-2");
  refused_with(stripped, "pid 105 cannot be debugged: process 105 (/x) has no debug information");
  stripped.session_id = "s-old-5";
  stripped.options.set_allow_unsupported_go(true);
  refused_with(stripped, "pid 105 cannot be debugged: process 105 (/x) has no debug information");
  EXPECT_EQ(factory_.started(), 0);

  SessionRequest allowed = Trace("old", "s-old-3");
  allowed.options.set_allow_unsupported_go(true);
  auto s = manager_->Start(allowed);
  ASSERT_TRUE(s.ok()) << s.status();
  StreamReader reader((*s)->stream());
  auto armed = reader.Next();
  ASSERT_TRUE(armed.event.has_armed()) << armed.event.DebugString();
  ASSERT_EQ(factory_.trace_specs().size(), 1u);
  EXPECT_TRUE(factory_.trace_specs()[0].allow_unsupported_go);
  EXPECT_EQ(factory_.trace_specs()[0].binary.go_version(), "go1.19.8");
  manager_->Shutdown(kdbg::v1::END_REASON_AGENT_SHUTDOWN, absl::Seconds(5));
}

// A trace session that may run on eBPF (--engine auto, the default, or ebpf) is not held to the
// bundled Delve's Go range: the engines decide (the Delve engine refuses the version itself).
TEST_F(SessionManagerTest, GoOutsideDelvesRangeGoesOnToTheEbpfEngine) {
  kdbg::v1::ResolvedTarget old;
  old.set_host_pid(104);
  old.set_container_id("old");
  old.set_start_time_ticks(1104);
  old.mutable_binary()->set_go_version("go1.19.8");
  old.mutable_binary()->set_has_dwarf(true);
  old.set_go_supported(false);
  old.set_go_support_problem("built with go1.19.8, outside Go 1.24-1.27");
  old.set_problem(old.go_support_problem());
  old.set_debuggable(false);
  // One process per session: a session's claim on its process outlives its stream's end briefly.
  for (int i = 0; i < 3; ++i) {
    old.set_host_pid(110 + i);
    old.set_container_id(absl::StrCat("old-", i));
    resolver_.AddTarget(old);
  }
  Make(4);
  int i = 0;
  for (const std::string engine : {"", "auto", "ebpf"}) {
    SessionRequest r = Trace(absl::StrCat("old-", i++), "s-ebpf-" + engine);
    r.options.set_engine(engine);
    r.options.set_no_returns(engine == "ebpf");
    auto s = manager_->Start(r);
    ASSERT_TRUE(s.ok()) << s.status();
    StreamReader reader((*s)->stream());
    auto armed = reader.Next();
    ASSERT_TRUE(armed.event.has_armed()) << engine << ": " << armed.event.DebugString();
    (*s)->RequestEnd(kdbg::v1::END_REASON_STOP_REQUESTED);
    ReadToEnd(reader);
  }
  ASSERT_EQ(factory_.trace_specs().size(), 3u);
  for (const auto& spec : factory_.trace_specs()) {
    EXPECT_FALSE(spec.allow_unsupported_go);  // nothing marked: Delve still refuses it
    EXPECT_EQ(spec.binary.go_version(), "go1.19.8");
  }
  EXPECT_EQ(factory_.trace_specs()[2].engine, "ebpf");
  EXPECT_FALSE(factory_.trace_specs()[1].no_returns);
  EXPECT_TRUE(factory_.trace_specs()[2].no_returns);  // --no-returns reaches the engine
  manager_->Shutdown(kdbg::v1::END_REASON_AGENT_SHUTDOWN, absl::Seconds(5));
}

TEST_F(SessionManagerTest, NodeLimitIsResourceExhausted) {
  Make(/*max_sessions=*/2);
  auto a = manager_->Start(Trace("c1"));
  auto b = manager_->Start(Trace("c2"));
  ASSERT_TRUE(a.ok() && b.ok());
  auto c = manager_->Start(Trace("c3"));
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(c.status().message().find("limit of 2 concurrent"), absl::string_view::npos)
      << c.status();
  EXPECT_EQ(metrics_.total("trace", "refused"), 1);
  // Once one ends, a new one fits.
  StreamReader reader((*a)->stream());
  (*a)->RequestEnd(kdbg::v1::END_REASON_CLIENT_STOP);
  ReadToEnd(reader);
  ASSERT_EQ(reader.Next().kind, Kind::kFinish);
  EXPECT_TRUE(manager_->Start(Trace("c3")).ok());
}

TEST_F(SessionManagerTest, SecondSessionOnTheSameProcessIsRefused) {
  Make();
  auto a = manager_->Start(Trace("c1", "first"));
  ASSERT_TRUE(a.ok());
  StreamReader ra((*a)->stream());
  ASSERT_TRUE(ra.Next().event.has_armed());
  auto b = manager_->Start(Trace("c1", "second"));
  ASSERT_TRUE(b.ok());  // admitted: the PID is only known once resolved
  StreamReader rb((*b)->stream());
  auto err = rb.Next();
  ASSERT_EQ(err.kind, Kind::kEvent);
  ASSERT_TRUE(err.event.has_error());
  EXPECT_EQ(err.event.error().code(), "ALREADY_EXISTS");
  EXPECT_NE(
      err.event.error().message().find("process 101 already has debug session first (user alice)"),
      std::string::npos)
      << err.event.error().message();
  auto fin = rb.Next();
  ASSERT_EQ(fin.kind, Kind::kFinish);
  EXPECT_EQ(fin.status.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(factory_.started(), 1);  // the second never reached Delve
  EXPECT_EQ(manager_->size(), 1);
  EXPECT_EQ(metrics_.total("trace", "refused"), 1);
}

// A lease ends its session once its time has been served, whatever the wall clock does: NTP setting
// it an hour on does not end the session early, setting it back does not keep it past its lease.
// The listing still shows wall times.
TEST_F(SessionManagerTest, LeaseExpiryEndsTheSessionAfterTimeServed) {
  Make();
  SessionRequest r = Trace("c1", "leased");
  r.lease_ms = 60'000;
  auto s = manager_->Start(r);
  ASSERT_TRUE(s.ok());
  StreamReader reader((*s)->stream());
  ASSERT_TRUE(reader.Next().event.has_armed());
  EXPECT_EQ((*s)->Info().start_unix_nanos(), absl::ToUnixNanos(clock_.Now()));
  clock_.StepWall(absl::Hours(2));
  EXPECT_EQ(manager_->CheckLeases(), 0);
  clock_.StepWall(-absl::Hours(3));
  clock_.Advance(absl::Seconds(59));
  EXPECT_EQ(manager_->CheckLeases(), 0);
  clock_.Advance(absl::Seconds(1));
  EXPECT_EQ(manager_->CheckLeases(), 1);
  EXPECT_EQ(ReadToEnd(reader).reason(), kdbg::v1::END_REASON_LEASE_EXPIRED);
  EXPECT_EQ(manager_->CheckLeases(), 0);
}

TEST_F(SessionManagerTest, LeaseIsCappedAtTheMaximum) {
  Make();
  SessionRequest r = Trace("c1", "long");
  r.lease_ms = absl::ToInt64Milliseconds(absl::Hours(5));
  auto s = manager_->Start(r);
  ASSERT_TRUE(s.ok());
  auto info = (*s)->Info();
  EXPECT_EQ(info.lease_expiry_unix_nanos() - info.start_unix_nanos(),
            absl::ToInt64Nanoseconds(absl::Minutes(30)));
}

TEST_F(SessionManagerTest, ResolveFailureIsAnErrorEventAndStatus) {
  Make();
  resolver_.AddError("gone", absl::NotFoundError("no process of container gone on this node"));
  auto s = manager_->Start(Trace("gone"));
  ASSERT_TRUE(s.ok());
  StreamReader reader((*s)->stream());
  auto err = reader.Next();
  ASSERT_TRUE(err.event.has_error());
  EXPECT_EQ(err.event.error().code(), "NOT_FOUND");
  auto fin = reader.Next();
  ASSERT_EQ(fin.kind, Kind::kFinish);
  EXPECT_EQ(fin.status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(factory_.started(), 0);
  EXPECT_EQ(metrics_.total("trace", "failed"), 1);
}

TEST_F(SessionManagerTest, EngineStartFailureCountsAsDelveFailure) {
  Make();
  FakeDebugSessionFactory::Options o;
  o.start_error =
      absl::FailedPreconditionError("could not attach to pid 101: operation not permitted");
  factory_.set_options(o);
  auto s = manager_->Start(Trace("c1"));
  ASSERT_TRUE(s.ok());
  StreamReader reader((*s)->stream());
  auto err = reader.Next();
  ASSERT_TRUE(err.event.has_error());
  EXPECT_EQ(err.event.error().code(), "FAILED_PRECONDITION");
  EXPECT_EQ(reader.Next().status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(metrics_.RenderPrometheus().find("kdbg_agent_delve_failures_total 1\n"),
            std::string::npos);
}

TEST_F(SessionManagerTest, ShutdownEndsEverySessionAndRefusesNewOnes) {
  Make(3);
  auto a = manager_->Start(Trace("c1"));
  auto b = manager_->Start(Trace("c2"));
  ASSERT_TRUE(a.ok() && b.ok());
  StreamReader ra((*a)->stream()), rb((*b)->stream());
  ASSERT_TRUE(ra.Next().event.has_armed());
  ASSERT_TRUE(rb.Next().event.has_armed());
  EXPECT_EQ(manager_->Shutdown(kdbg::v1::END_REASON_AGENT_SHUTDOWN, absl::Seconds(10)), 0);
  EXPECT_EQ(ReadToEnd(ra).reason(), kdbg::v1::END_REASON_AGENT_SHUTDOWN);
  EXPECT_EQ(ReadToEnd(rb).reason(), kdbg::v1::END_REASON_AGENT_SHUTDOWN);
  EXPECT_EQ(factory_.live(), 0);
  auto c = manager_->Start(Trace("c3"));
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kUnavailable);
}

TEST_F(SessionManagerTest, EndRequestedWhileStartingStillEndsSafely) {
  Make();
  FakeDebugSessionFactory::Options o;
  o.start_delay = absl::Milliseconds(100);
  factory_.set_options(o);
  auto s = manager_->Start(Trace("c1"));
  ASSERT_TRUE(s.ok());
  (*s)->RequestEnd(kdbg::v1::END_REASON_CLIENT_GONE);
  StreamReader reader((*s)->stream());
  EXPECT_EQ(ReadToEnd(reader).reason(), kdbg::v1::END_REASON_CLIENT_GONE);
  EXPECT_EQ(reader.Next().kind, Kind::kFinish);  // closed only after the engine's session is gone
  EXPECT_EQ(factory_.live(), 0);
}

TEST_F(SessionManagerTest, RejectsRequestsWithoutTargetOrScript) {
  Make();
  SessionRequest r = Trace("");
  EXPECT_EQ(manager_->Start(r).status().code(), absl::StatusCode::kInvalidArgument);
  r = Trace("c1");
  r.options.clear_script();
  EXPECT_EQ(manager_->Start(r).status().code(), absl::StatusCode::kInvalidArgument);
  auto a = manager_->Start(Trace("c1", "dup"));
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(manager_->Start(Trace("c2", "dup")).status().code(), absl::StatusCode::kAlreadyExists);
}

TEST_F(SessionManagerTest, BareHostPidIsRefusedUnlessAllowed) {
  Make(/*max_sessions=*/2, /*allow_host_pid=*/false);
  SessionRequest r = Trace("");
  r.target.set_host_pid(101);
  auto refused = manager_->Start(r);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_NE(refused.status().message().find("--allow-host-pid"), std::string::npos);
  EXPECT_EQ(manager_->List().size(), 0u);
  EXPECT_TRUE(manager_->Start(Trace("c1")).ok()) << "container IDs are still served";
}

}  // namespace
}  // namespace kdbg::agent
