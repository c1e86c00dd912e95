// The bundled Delve's Go range gates the Delve engine only: a real `kdbg-agent serve` (real mTLS,
// real bundled Delve, real kernel) traces a Go 1.19 target (Debian's Go, outside every bundled
// Delve's range, but with the register ABI the eBPF engine needs) on the eBPF engine, and refuses
// the same target on Delve with Delve's reason; `auto` on a script eBPF cannot run gives both.
#include <unistd.h>

#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/agent/agent_process.h"
#include "tests/support/certs/test_certs.h"
#include "tests/support/go_target.h"
#include "tests/support/http_probe.h"
#include "tests/support/proc_probe.h"
#include "tests/support/test_env.h"

namespace kdbg::testing {
namespace {

using ::testing::HasSubstr;

class EngineGoGateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    KDBG_REQUIRE_REAL(::geteuid() == 0 && HaveBundledDelve(),
                      "root (BPF, ptrace) and the bundled Delve (scripts/delve)");
    auto pki = TestPki::Create("kdbg-gate-ca");
    ASSERT_TRUE(pki.ok()) << pki.status();
    pki_ = std::move(*pki);
    auto ctl = pki_->Issue({"kdbg-controller"});
    ASSERT_TRUE(ctl.ok()) << ctl.status();
    controller_ = *ctl;
    auto t = GoTarget::Start("hello-world-go119");
    ASSERT_TRUE(t.ok()) << t.status();
    target_ = std::move(*t);
    auto a = AgentProcess::Start(pki_.get(), {});
    ASSERT_TRUE(a.ok()) << a.status();
    agent_ = std::move(*a);
    stub_ = agent_->Stub(&controller_, pki_.get());
  }
  void TearDown() override {
    if (HasFailure() && agent_ != nullptr)
      std::fprintf(stderr, "agent log:\n%s\n", agent_->Logs().c_str());
  }
  kdbg::v1::TraceRequest TraceReq(const std::string& id, const std::string& engine,
                                  const std::string& script) {
    kdbg::v1::TraceRequest r;
    r.mutable_target()->set_host_pid(target_->pid());
    r.mutable_options()->set_script(script);
    r.mutable_options()->set_script_name("trace.dlv");
    r.mutable_options()->set_engine(engine);
    r.set_user("alice");
    r.set_session_id(id);
    return r;
  }
  // Starts a session that must be refused; returns the error event's message.
  std::string Refusal(const kdbg::v1::TraceRequest& req) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    auto reader = stub_->Trace(&ctx, req);
    kdbg::v1::Event e;
    std::string message = "(no error event)";
    while (reader->Read(&e)) {
      EXPECT_FALSE(e.has_armed()) << e.DebugString();
      if (e.has_error()) {
        EXPECT_EQ(e.error().code(), "FAILED_PRECONDITION") << e.DebugString();
        message = e.error().message();
      }
    }
    EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::FAILED_PRECONDITION);
    return message;
  }
  std::vector<kdbg::v1::SessionInfo> Sessions() {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    kdbg::v1::ListSessionsResponse r;
    EXPECT_TRUE(stub_->ListSessions(&ctx, {}, &r).ok());
    return {r.sessions().begin(), r.sessions().end()};
  }
  void ExpectReleased() {
    auto st = WaitUntilReleased(target_->pid(), 10000);
    ASSERT_TRUE(st.ok()) << st.status();
    EXPECT_EQ(st->tracer_pid, 0);
    EXPECT_TRUE(DlvProcessesFor(target_->pid()).empty());
    auto r = HttpGet("127.0.0.1", target_->port());
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->status, 200);
  }

  std::unique_ptr<TestPki> pki_;
  CertFiles controller_;
  std::unique_ptr<GoTarget> target_;
  std::unique_ptr<AgentProcess> agent_;
  std::unique_ptr<kdbg::v1::Agent::Stub> stub_;
};

constexpr char kFunctionScript[] =
    "trace handleSlash main.handleSlash\non handleSlash print r.RemoteAddr\n";
// A script only Delve runs (a print of a map's entry).
constexpr char kMapScript[] =
    "trace handleSlash main.handleSlash\non handleSlash print r.Header[\"Accept\"]\n";

TEST_F(EngineGoGateTest, GoOutsideDelvesRangeRunsOnEbpf) {
  for (const std::string engine : {"auto", "ebpf"}) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    auto reader = stub_->Trace(&ctx, TraceReq("gate-" + engine, engine, kFunctionScript));
    kdbg::v1::Event e;
    ASSERT_TRUE(reader->Read(&e));
    ASSERT_TRUE(e.has_armed()) << engine << ": " << e.DebugString();
    EXPECT_EQ(e.armed().engine(), "ebpf");
    auto r = HttpGet("127.0.0.1", target_->port());
    ASSERT_TRUE(r.ok()) << r.status();
    do {
      ASSERT_TRUE(reader->Read(&e));
    } while (!e.has_hit());
    EXPECT_EQ(e.hit().function(), "main.handleSlash");
    ASSERT_GE(e.hit().vars_size(), 1);
    EXPECT_EQ(e.hit().vars(0).value(), absl::StrCat("\"127.0.0.1:", r->local_port, "\""));
    EXPECT_TRUE(e.unsupported_go().empty());
    // Stopped as `kdbg stop` does; the next session may start once this one is gone.
    grpc::ClientContext stop_ctx;
    stop_ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    kdbg::v1::StopSessionRequest stop;
    stop.set_session_id("gate-" + engine);
    kdbg::v1::StopSessionResponse stopped;
    ASSERT_TRUE(stub_->StopSession(&stop_ctx, stop, &stopped).ok());
    EXPECT_TRUE(stopped.ended().target_alive());
    EXPECT_FALSE(stopped.ended().target_traced());
    while (reader->Read(&e)) {
    }
    EXPECT_TRUE(reader->Finish().ok());
    ExpectReleased();
    for (int i = 0; i < 100 && !Sessions().empty(); ++i) absl::SleepFor(absl::Milliseconds(50));
    EXPECT_TRUE(Sessions().empty());
  }
}

TEST_F(EngineGoGateTest, DelveRefusesItWithTheGoRangeAndAutoGivesBothReasons) {
  std::string delve = Refusal(TraceReq("gate-delve", "delve", kFunctionScript));
  EXPECT_THAT(delve, HasSubstr("go1.19"));
  EXPECT_THAT(delve, HasSubstr("--allow-unsupported-go"));
  std::string both = Refusal(TraceReq("gate-auto-map", "auto", kMapScript));
  EXPECT_THAT(both, HasSubstr("go1.19"));
  EXPECT_THAT(
      both,
      HasSubstr("eBPF engine not used: trace.dlv:2: `r.Header[\"Accept\"]` is not a parameter"));
  ExpectReleased();
}

}  // namespace
}  // namespace kdbg::testing
