// A real `kdbg-agent serve` (real TLS, real Delve, real Go target) driven by a test client playing
// the controller. After every end: target serving, TracerPid 0, no dlv left.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <optional>
#include <random>
#include <thread>

#include <filesystem>
#include <fstream>
#include <sstream>
#include "absl/cleanup/cleanup.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/child_process.h"
#include "common/clock.h"
#include "common/fd.h"
#include "common/grpc_limits.h"
#include "common/tls.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/agent/agent_process.h"
#include "tests/integration/agent/tcp_helpers.h"
#include "tests/support/certs/test_certs.h"
#include "tests/support/dap_client.h"
#include "tests/support/go_target.h"
#include "tests/support/grpc_calls.h"
#include "tests/support/http_probe.h"
#include "tests/support/proc_probe.h"
#include "tests/support/tcp_proxy.h"
#include "tests/support/test_env.h"

namespace kdbg::testing {
namespace {

constexpr char kScript[] =
    "trace handleSlash main.go:10\non handleSlash print r.RemoteAddr\ncontinue\n";

bool HaveDelve() { return ::geteuid() == 0 && HaveBundledDelve(); }

class AgentIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    KDBG_REQUIRE_REAL(HaveDelve(), "root and the bundled Delve (scripts/delve)");
    auto pki = TestPki::Create("kdbg-it-ca");
    ASSERT_TRUE(pki.ok()) << pki.status();
    pki_ = std::move(*pki);
    auto ctl = pki_->Issue({"kdbg-controller"});
    ASSERT_TRUE(ctl.ok()) << ctl.status();
    controller_ = *ctl;
    auto t = GoTarget::Start("hello-world");
    ASSERT_TRUE(t.ok()) << t.status();
    target_ = std::move(*t);
  }
  void StartAgent(const AgentProcess::Options& o = {}) {
    auto a = AgentProcess::Start(pki_.get(), o);
    ASSERT_TRUE(a.ok()) << a.status();
    agent_ = std::move(*a);
  }
  // A TcpProxy in front of the agent's gRPC port, and a stub through it as the controller (its
  // certificate) on a channel without keepalive of its own.
  std::unique_ptr<TcpProxy> ProxyToAgent() {
    return std::make_unique<TcpProxy>(
        std::stoi(agent_->address().substr(agent_->address().rfind(':') + 1)));
  }
  std::unique_ptr<kdbg::v1::Agent::Stub> StubThrough(const TcpProxy& proxy) {
    tls::ClientTlsFiles files{pki_->ca().cert_path, controller_.cert_path, controller_.key_path};
    grpc::ChannelArguments args;
    args.SetSslTargetNameOverride("localhost");
    auto creds = tls::MakeClientCredentials(files);
    if (!creds.ok()) return nullptr;
    return kdbg::v1::Agent::NewStub(
        grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", proxy.port()), *creds, args));
  }
  void TearDown() override {
    if (HasFailure() && agent_ != nullptr)
      std::fprintf(stderr, "agent log:\n%s\n", agent_->Logs().c_str());
  }

  // On Delve: this suite proves the agent's Delve sessions (`auto` would run kScript on eBPF, as
  // its main.go:10 is handleSlash's entry).
  kdbg::v1::TraceRequest TraceReq(const std::string& id, int64_t lease_ms = 0) {
    kdbg::v1::TraceRequest r;
    r.mutable_target()->set_host_pid(target_->pid());
    r.mutable_options()->set_script(kScript);
    r.mutable_options()->set_script_name("trace.dlv");
    r.mutable_options()->set_engine("delve");
    r.set_user("alice");
    r.set_session_id(id);
    r.set_lease_ms(lease_ms);
    return r;
  }
  // An Attach of the target by `user` as session `id`.
  kdbg::v1::AttachRequest AttachReq(const std::string& id, const std::string& user = "bob") {
    kdbg::v1::AttachRequest r;
    r.mutable_target()->set_host_pid(target_->pid());
    r.set_user(user);
    r.set_session_id(id);
    return r;
  }
  // Opens attach session `id` on `ctx` and reads its "ready" notice; nullptr (the failure recorded)
  // if it does not come first.
  std::unique_ptr<grpc::ClientReader<kdbg::v1::Event>> AttachReady(kdbg::v1::Agent::Stub* stub,
                                                                   grpc::ClientContext* ctx,
                                                                   const std::string& id) {
    auto attach = stub->Attach(ctx, AttachReq(id));
    kdbg::v1::Event e;
    if (!attach->Read(&e) || !e.has_notice() || e.notice().kind() != kdbg::v1::NOTICE_KIND_READY) {
      ADD_FAILURE() << "no ready notice: " << e.DebugString() << "\n" << agent_->Logs();
      return nullptr;
    }
    return attach;
  }
  static void Deadline(grpc::ClientContext* ctx, int s = 60) {
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(s));
  }
  // The target is running, untraced, serving, and no dlv names it.
  void ExpectReleased() {
    auto st = WaitUntilReleased(target_->pid(), 10000);
    ASSERT_TRUE(st.ok()) << st.status();
    EXPECT_EQ(st->tracer_pid, 0);
    for (int i = 0; i < 200 && !DlvProcessesFor(target_->pid()).empty(); ++i)
      absl::SleepFor(absl::Milliseconds(50));
    EXPECT_TRUE(DlvProcessesFor(target_->pid()).empty());
    auto r = HttpGet("127.0.0.1", target_->port());
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->status, 200);
  }
  // Reads until the EndedEvent (the notices on the way go to `notices` if given); fails if the
  // stream ends first.
  static kdbg::v1::EndedEvent ReadEnded(grpc::ClientReaderInterface<kdbg::v1::Event>* reader,
                                        std::vector<kdbg::v1::NoticeEvent>* notices = nullptr) {
    kdbg::v1::Event e;
    while (reader->Read(&e)) {
      if (e.has_ended()) return e.ended();
      if (e.has_notice() && notices != nullptr) notices->push_back(e.notice());
    }
    ADD_FAILURE() << "stream ended without an EndedEvent: " << reader->Finish().error_message();
    return {};
  }

  std::unique_ptr<TestPki> pki_;
  CertFiles controller_;
  std::unique_ptr<GoTarget> target_;
  std::unique_ptr<AgentProcess> agent_;
};

TEST_F(AgentIntegrationTest, TraceEndToEndGivesTheClientPortsThenCancelEndsSafely) {
  StartAgent();
  auto stub = agent_->Stub(&controller_, pki_.get());
  grpc::ClientContext ctx;
  Deadline(&ctx);
  auto reader = stub->Trace(&ctx, TraceReq("it-trace"));
  kdbg::v1::Event e;
  ASSERT_TRUE(reader->Read(&e));
  ASSERT_TRUE(e.has_armed()) << e.DebugString();
  EXPECT_EQ(e.armed().host_pid(), target_->pid());

  std::vector<int> ports;
  for (int i = 0; i < 3; ++i) {
    auto r = HttpGet("127.0.0.1", target_->port());
    ASSERT_TRUE(r.ok()) << r.status();
    ports.push_back(r->local_port);
  }
  for (int port : ports) {
    ASSERT_TRUE(reader->Read(&e));
    ASSERT_TRUE(e.has_hit()) << e.DebugString();
    ASSERT_GE(e.hit().vars_size(), 1);
    EXPECT_EQ(e.hit().vars(0).name(), "r.RemoteAddr");
    EXPECT_EQ(e.hit().vars(0).value(), absl::StrCat("\"127.0.0.1:", port, "\""));
  }
  EXPECT_EQ(CancelAndDrain(&ctx, reader.get()).error_code(), grpc::StatusCode::CANCELLED);
  ExpectReleased();
  // The target is released inside Detach, a moment before the session's end is logged.
  for (int i = 0; i < 100 && !absl::StrContains(agent_->Logs(), "\"reason\":\"client_gone\"");
       ++i) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_TRUE(absl::StrContains(agent_->Logs(), "\"reason\":\"client_gone\"")) << agent_->Logs();
  EXPECT_TRUE(absl::StrContains(agent_->Logs(), "\"caller\":\"CN=kdbg-controller\""));
  EXPECT_TRUE(absl::StrContains(agent_->Logs(), "\"user\":\"alice\""));
}

TEST_F(AgentIntegrationTest, WrongOrMissingCertificatesAreRefusedAndNothingRuns) {
  StartAgent();
  auto other = TestPki::Create("evil-ca");
  ASSERT_TRUE(other.ok());
  auto foreign = (*other)->Issue({"kdbg-controller"});
  ASSERT_TRUE(foreign.ok());
  const CertFiles* foreign_cert = &*foreign;
  for (const CertFiles* cert : std::vector<const CertFiles*>{nullptr, foreign_cert}) {
    auto stub = agent_->Stub(cert, pki_.get());
    grpc::ClientContext ctx;
    Deadline(&ctx, 10);
    auto reader = stub->Trace(&ctx, TraceReq("it-refused"));
    kdbg::v1::Event e;
    EXPECT_FALSE(reader->Read(&e));
    EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::UNAVAILABLE);
  }
  EXPECT_TRUE(DlvProcessesFor(target_->pid()).empty());
  EXPECT_EQ(ReadProcStatus(target_->pid())->tracer_pid, 0);
  EXPECT_FALSE(absl::StrContains(agent_->Logs(), "session admitted"));
}

TEST_F(AgentIntegrationTest, LeaseExpiryEndsTheSessionSafely) {
  StartAgent();
  auto stub = agent_->Stub(&controller_, pki_.get());
  grpc::ClientContext ctx;
  Deadline(&ctx);
  auto reader = stub->Trace(&ctx, TraceReq("it-lease", /*lease_ms=*/1500));
  kdbg::v1::Event e;
  ASSERT_TRUE(reader->Read(&e));
  ASSERT_TRUE(e.has_armed());
  auto ended = ReadEnded(reader.get());
  EXPECT_EQ(ended.reason(), kdbg::v1::END_REASON_LEASE_EXPIRED);
  EXPECT_TRUE(ended.target_alive());
  EXPECT_FALSE(ended.target_traced());
  EXPECT_TRUE(reader->Finish().ok());
  ExpectReleased();
}

TEST_F(AgentIntegrationTest, SigtermEndsEverySessionAndExits) {
  StartAgent();
  auto stub = agent_->Stub(&controller_, pki_.get());
  grpc::ClientContext ctx;
  Deadline(&ctx);
  auto reader = stub->Trace(&ctx, TraceReq("it-sigterm"));
  kdbg::v1::Event e;
  ASSERT_TRUE(reader->Read(&e));
  ASSERT_TRUE(e.has_armed());
  ASSERT_TRUE(agent_->process().Signal(SIGTERM).ok());
  auto ended = ReadEnded(reader.get());
  EXPECT_EQ(ended.reason(), kdbg::v1::END_REASON_AGENT_SHUTDOWN);
  auto status = agent_->process().Wait(absl::Seconds(30));
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0)
      << ChildProcess::DescribeWaitStatus(*status);
  ExpectReleased();
}

TEST_F(AgentIntegrationTest, SecondSessionOnTheTargetAndOnePastTheNodeLimitAreRefused) {
  StartAgent({.max_sessions = 1, .lease_default = "10m"});
  auto stub = agent_->Stub(&controller_, pki_.get());
  grpc::ClientContext c1;
  Deadline(&c1);
  auto r1 = stub->Trace(&c1, TraceReq("it-first"));
  kdbg::v1::Event e;
  ASSERT_TRUE(r1->Read(&e));
  ASSERT_TRUE(e.has_armed());

  grpc::ClientContext c2;
  Deadline(&c2);
  auto r2 = stub->Trace(&c2, TraceReq("it-second"));
  EXPECT_FALSE(r2->Read(&e));
  grpc::Status s2 = r2->Finish();
  EXPECT_EQ(s2.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << s2.error_message();
  EXPECT_TRUE(absl::StrContains(s2.error_message(), "limit of 1")) << s2.error_message();

  CancelAndDrain(&c1, r1.get());
  ExpectReleased();
}

TEST_F(AgentIntegrationTest, SecondSessionOnTheSameProcessIsRefused) {
  StartAgent();
  auto stub = agent_->Stub(&controller_, pki_.get());
  grpc::ClientContext c1;
  Deadline(&c1);
  auto r1 = stub->Trace(&c1, TraceReq("it-one"));
  kdbg::v1::Event e;
  ASSERT_TRUE(r1->Read(&e));
  ASSERT_TRUE(e.has_armed());
  grpc::ClientContext c2;
  Deadline(&c2);
  auto r2 = stub->Trace(&c2, TraceReq("it-two"));
  ASSERT_TRUE(r2->Read(&e));
  ASSERT_TRUE(e.has_error()) << e.DebugString();
  EXPECT_EQ(e.error().code(), "ALREADY_EXISTS");
  EXPECT_EQ(r2->Finish().error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(DlvProcessesFor(target_->pid()).size(), 1u);
  CancelAndDrain(&c1, r1.get());
  ExpectReleased();
}

}  // namespace
}  // namespace kdbg::testing

namespace kdbg::testing {
namespace {

TEST_F(AgentIntegrationTest, DroppedConnectionEndsTheSessionSafely) {
  StartAgent();
  auto proxy = ProxyToAgent();
  auto stub = StubThrough(*proxy);
  ASSERT_NE(stub, nullptr);
  grpc::ClientContext ctx;
  Deadline(&ctx);
  auto reader = stub->Trace(&ctx, TraceReq("it-drop"));
  kdbg::v1::Event e;
  ASSERT_TRUE(reader->Read(&e));
  ASSERT_TRUE(e.has_armed());
  proxy->Sever();
  // The agent sees the connection die and ends the session without any word from the client.
  bool ended = false;
  for (int i = 0; i < 200 && !ended; ++i) {
    ended = absl::StrContains(agent_->Logs(), "\"msg\":\"session ended\"");
    if (!ended) absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_TRUE(ended) << agent_->Logs();
  EXPECT_TRUE(absl::StrContains(agent_->Logs(), "\"reason\":\"client_gone\""));
  CancelAndDrain(&ctx, reader.get());
  ExpectReleased();
}

// A network cut between controller and agent (the link goes silent: no FIN, no RST) during an idle
// attach session, the case nothing else would notice before the lease ends: the agent's own
// keepalive PINGs go unanswered, gRPC gives the connection up, and the agent ends the session
// (client_gone) and releases the target within kKeepaliveTime + kKeepaliveTimeout (20 s).
TEST_F(AgentIntegrationTest, SilentNetworkCutEndsAnIdleAttachWithinTheKeepalive) {
  StartAgent();
  auto proxy = ProxyToAgent();
  auto stub = StubThrough(*proxy);  // no keepalive of its own: the agent must notice by itself
  ASSERT_NE(stub, nullptr);
  grpc::ClientContext ctx;
  Deadline(&ctx, 120);
  kdbg::v1::AttachRequest req = AttachReq("it-cut");
  auto attach = stub->Attach(&ctx, req);
  kdbg::v1::Event e;
  bool ready = false;
  while (!ready && attach->Read(&e)) {
    ready = e.has_notice() && e.notice().kind() == kdbg::v1::NOTICE_KIND_READY;
  }
  ASSERT_TRUE(ready);
  ASSERT_EQ(DlvProcessesFor(target_->pid()).size(), 1u);
  const absl::Time cut = kdbg::MonotonicNow();
  proxy->Freeze();
  bool ended = false;
  while (!ended && kdbg::MonotonicNow() - cut < absl::Seconds(45)) {
    ended = absl::StrContains(agent_->Logs(), "\"msg\":\"session ended\"");
    if (!ended) absl::SleepFor(absl::Milliseconds(100));
  }
  const absl::Duration took = kdbg::MonotonicNow() - cut;
  ASSERT_TRUE(ended) << "the agent did not notice the cut in 45 s: " << agent_->Logs();
  std::printf("session ended %.1f s after the cut\n", absl::ToDoubleSeconds(took));
  EXPECT_LE(took, kKeepaliveTime * 2 + kKeepaliveTimeout + absl::Seconds(5));
  EXPECT_TRUE(absl::StrContains(agent_->Logs(), "\"reason\":\"client_gone\"")) << agent_->Logs();
  ExpectReleased();
  ctx.TryCancel();
  proxy->Sever();
  while (attach->Read(&e)) {
  }
  attach->Finish();
}

// `dlv connect` (the bundled Delve) to a tunnel bridge's local port, its commands read from
// `stdin_path` (a file or a FIFO), its output (stderr too) written to `out_path`.
absl::StatusOr<std::unique_ptr<ChildProcess>> SpawnDlvConnect(int port,
                                                              const std::string& stdin_path,
                                                              const std::string& out_path) {
  SpawnOptions so;
  so.argv = {BundledDelvePath(), "connect", absl::StrCat("127.0.0.1:", port)};
  so.stdin_path = stdin_path;
  so.stdout_path = out_path;
  so.stderr_to_stdout = true;
  so.extra_env = {"TERM=dumb"};
  return ChildProcess::Spawn(so);
}

// What a `dlv connect` run said and how it ended.
struct DlvRun {
  absl::StatusOr<int> wait_status;  // as ChildProcess::Wait gives it
  std::string out;                  // its stdout and stderr
};

// Runs `dlv connect` to 127.0.0.1:`port` typing `keys` (written to DIR/NAME.stdin), up to 60 s.
DlvRun RunDlvConnect(int port, const std::string& dir, const std::string& name,
                     const std::string& keys) {
  {
    std::ofstream cmds(dir + "/" + name + ".stdin");
    cmds << keys;
  }
  DlvRun run;
  auto dlv = SpawnDlvConnect(port, dir + "/" + name + ".stdin", dir + "/" + name + ".out");
  if (!dlv.ok()) {
    run.wait_status = dlv.status();
    return run;
  }
  run.wait_status = (*dlv)->Wait(absl::Seconds(60));
  std::ifstream in(dir + "/" + name + ".out");
  std::stringstream out;
  out << in.rdbuf();
  run.out = out.str();
  return run;
}

// `dlv connect` through the agent's Tunnel: break, continue until a request stops there, clear
// and quit leaving the target running. (Disabled from session 1 to 3: its request loop sent its
// 200 requests in ~2 ms, before dlv had even connected, so no request ever reached the breakpoint
// and `continue` waited; the requests now keep coming, paced, until dlv exits.)
TEST_F(AgentIntegrationTest, DlvConnectThroughTheTunnelBreaksContinuesAndQuits) {
  StartAgent();
  auto stub = agent_->Stub(&controller_, pki_.get());
  grpc::ClientContext ctx;
  Deadline(&ctx, 120);
  auto attach = AttachReady(stub.get(), &ctx, "it-attach");
  ASSERT_NE(attach, nullptr);

  TunnelBridge bridge(stub.get(), "it-attach");
  std::string dir = MakeTempDir("kdbg-dlv-connect-");
  // A request to hit the breakpoint; it completes once `continue` after `clearall`/`quit -c`.
  std::atomic<bool> served{false};
  std::atomic<bool> dlv_done{false};
  std::thread client([&] {
    // Paced, bounded by count and time (60 s), until dlv exits.
    for (int i = 0; i < 1200 && !dlv_done; ++i) {
      auto r = HttpGet("127.0.0.1", target_->port(), "/", absl::Seconds(10));
      if (r.ok() && r->status == 200) served = true;
      absl::SleepFor(absl::Milliseconds(50));
    }
  });
  DlvRun dlv = RunDlvConnect(bridge.port(), dir, "break-quit-c",
                             "break main.handleSlash\ncontinue\nclearall\nquit -c\n");
  dlv_done = true;
  client.join();
  ASSERT_TRUE(dlv.wait_status.ok()) << dlv.wait_status.status() << "\n" << dlv.out;
  EXPECT_EQ(ChildProcess::DescribeWaitStatus(*dlv.wait_status), "exit status 0") << dlv.out;
  EXPECT_TRUE(absl::StrContains(dlv.out, "Breakpoint 1 set at")) << dlv.out;
  EXPECT_TRUE(absl::StrContains(dlv.out, "main.handleSlash()")) << dlv.out;
  EXPECT_TRUE(served);
  // The session is still attached; ending the attach stream releases the target.
  CancelAndDrain(&ctx, attach.get());
  ExpectReleased();
  if (!HasFailure()) std::filesystem::remove_all(dir);  // kept for post-mortem on failure
}

// Reads the attach stream until a notice of `kind`; nullopt if the stream ends first.
std::optional<kdbg::v1::NoticeEvent> ReadNotice(
    grpc::ClientReaderInterface<kdbg::v1::Event>* reader, kdbg::v1::NoticeKind kind) {
  kdbg::v1::Event e;
  while (reader->Read(&e)) {
    if (e.has_notice() && e.notice().kind() == kind) return e.notice();
  }
  return std::nullopt;
}

// After a port check's connection, a `dlv connect` through the tunnel stops the target at its
// breakpoint, then quits answering "n" to "kill the headless instance?": Delve keeps the target
// halted for a next client. With no liveness probe (no stop limit) the service would wait, frozen,
// until the session ends; once the tunnel has closed the agent resumes it after its grace (2 s),
// tells the CLI why, and the session stays attached.
TEST_F(AgentIntegrationTest, ATargetTheLastDlvConnectLeftHaltedIsResumed) {
  StartAgent();
  auto stub = agent_->Stub(&controller_, pki_.get());
  grpc::ClientContext ctx;
  Deadline(&ctx, 120);
  auto attach = AttachReady(stub.get(), &ctx, "it-noclient");
  ASSERT_NE(attach, nullptr);

  // First a port check (`nc -z`): a connection closed before its first byte. Delve leaves such a
  // connection open; the tunnel must end anyway, or it would count as a client for good and the
  // target below would never be resumed.
  {
    TunnelBridge probe(stub.get(), "it-noclient");
    ASSERT_TRUE(ConnectAndClose(probe.port()));
    ASSERT_TRUE(probe.Ended(absl::Seconds(10))) << "the silent client's tunnel stayed open";
    EXPECT_TRUE(probe.status().ok()) << probe.status().error_message();
  }
  TunnelBridge bridge(stub.get(), "it-noclient");
  std::string dir = MakeTempDir("kdbg-dlv-quit-");
  // Requests until one stops at the breakpoint (dlv's `continue` returns there and dlv quits);
  // that one is answered only once the agent resumes the target.
  std::atomic<bool> dlv_done{false};
  std::atomic<bool> held_served{false};
  absl::Mutex mu;
  absl::Time held_answered_at = absl::InfinitePast();
  std::thread client([&] {
    for (int i = 0; i < 1200 && !dlv_done; ++i) {
      auto r = HttpGet("127.0.0.1", target_->port(), "/", absl::Seconds(30));
      if (dlv_done && r.ok() && r->status == 200) {
        absl::MutexLock lock(&mu);
        held_answered_at = kdbg::MonotonicNow();
        held_served = true;
      }
      absl::SleepFor(absl::Milliseconds(50));
    }
  });
  absl::Cleanup join = [&] {
    dlv_done = true;
    if (client.joinable()) client.join();
  };
  DlvRun dlv = RunDlvConnect(bridge.port(), dir, "break-quit",
                             "break main.handleSlash\ncontinue\nquit\nn\n");
  const absl::Time dlv_exited = kdbg::MonotonicNow();
  dlv_done = true;
  ASSERT_TRUE(dlv.wait_status.ok()) << dlv.wait_status.status() << "\n" << dlv.out;
  ASSERT_TRUE(absl::StrContains(dlv.out, "main.handleSlash()")) << dlv.out;
  // The CLI is told, and the request the stop held is answered.
  auto notice = ReadNotice(attach.get(), kdbg::v1::NOTICE_KIND_STOP_LIMIT);
  ASSERT_TRUE(notice.has_value()) << agent_->Logs();
  EXPECT_THAT(notice->message(), ::testing::HasSubstr("no debugger client is connected"));
  EXPECT_GE(kdbg::MonotonicNow() - dlv_exited, absl::Milliseconds(1500));
  client.join();
  EXPECT_TRUE(held_served) << "the request held at the breakpoint was never answered";
  {
    absl::MutexLock lock(&mu);
    // Held until the resume, not answered by dlv's leaving.
    EXPECT_GE(held_answered_at - dlv_exited, absl::Milliseconds(1500));
    EXPECT_LT(held_answered_at - dlv_exited, absl::Seconds(10));
  }
  // The target answers on (the breakpoint's stops are continued at once); the session is still
  // attached, and ending it releases the target.
  auto r = HttpGet("127.0.0.1", target_->port(), "/", absl::Seconds(5));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 200);
  CancelAndDrain(&ctx, attach.get());
  ExpectReleased();
  if (!HasFailure()) std::filesystem::remove_all(dir);
}

// `dlv connect` to a tunnel bridge's port, typed at as a user would: its commands go through a
// FIFO the test writes when it chooses (DIR/stdin), its output (stderr too) collects in DIR/out.
class InteractiveDlv {
 public:
  InteractiveDlv(int port, std::string dir) : dir_(std::move(dir)) {
    const std::string fifo = dir_ + "/stdin";
    if (::mkfifo(fifo.c_str(), 0600) != 0) {
      status_ = absl::InternalError(absl::StrCat("mkfifo ", fifo, ": ", std::strerror(errno)));
      return;
    }
    commands_ = UniqueFd(::open(fifo.c_str(), O_RDWR | O_CLOEXEC));
    auto dlv = SpawnDlvConnect(port, fifo, dir_ + "/out");
    if (!dlv.ok()) {
      status_ = dlv.status();
      return;
    }
    dlv_ = std::move(*dlv);
  }
  const absl::Status& status() const { return status_; }
  // What the user types ("break main.f\ncontinue\n").
  bool Type(const std::string& keys) {
    return ::write(commands_.get(), keys.data(), keys.size()) == static_cast<ssize_t>(keys.size());
  }
  std::string Output() const {
    std::ifstream in(dir_ + "/out");
    std::stringstream out;
    out << in.rdbuf();
    return out.str();
  }
  // Whether dlv has printed `what`, within 30 s.
  bool WaitFor(const std::string& what) const {
    for (int i = 0; i < 300 && !absl::StrContains(Output(), what); ++i) {
      absl::SleepFor(absl::Milliseconds(100));
    }
    return absl::StrContains(Output(), what);
  }
  absl::StatusOr<int> Wait(absl::Duration timeout) { return dlv_->Wait(timeout); }

 private:
  std::string dir_;
  absl::Status status_;
  UniqueFd commands_;
  std::unique_ptr<ChildProcess> dlv_;
};

// `dlv connect` sets a breakpoint on the request handler, stops there at a request, and leaves
// with `quit -c` (yes to "There are breakpoints set, do you wish to quit and continue without
// clearing breakpoints?"): the target runs on with a breakpoint nobody is connected to see. The
// agent halts it once, disables the breakpoint and says so: the requests that follow never stop
// there (its hit count stays at the one stop dlv saw). A second `dlv connect` finds it enabled
// again, with that count, and stops there at the next request.
TEST_F(AgentIntegrationTest, ABreakpointTheLastDlvConnectLeftIsDisabledUntilAClientIsBack) {
  StartAgent();
  auto stub = agent_->Stub(&controller_, pki_.get());
  grpc::ClientContext ctx;
  Deadline(&ctx, 180);
  auto attach = AttachReady(stub.get(), &ctx, "it-park");
  ASSERT_NE(attach, nullptr);
  std::string dir = MakeTempDir("kdbg-dlv-park-");
  // One client's session at the breakpoint: dlv types `first` and `continue`; once it has printed
  // `printed` a request is sent, and `keys` are typed once that request stopped at the breakpoint.
  auto stop_at_breakpoint_then = [&](const std::string& name, const std::string& first,
                                     const std::string& printed, const std::string& keys) {
    std::filesystem::create_directory(dir + "/" + name);
    TunnelBridge bridge(stub.get(), "it-park");
    InteractiveDlv dlv(bridge.port(), dir + "/" + name);
    ASSERT_TRUE(dlv.status().ok()) << dlv.status();
    ASSERT_TRUE(dlv.Type(first + "continue\n"));
    ASSERT_TRUE(dlv.WaitFor(printed)) << dlv.Output();
    absl::StatusOr<HttpResult> held = absl::UnknownError("not sent");
    std::thread request(
        [&] { held = HttpGet("127.0.0.1", target_->port(), "/", absl::Seconds(30)); });
    absl::Cleanup join = [&] {
      if (request.joinable()) request.join();
    };
    ASSERT_TRUE(dlv.WaitFor("> [Breakpoint 1] main.handleSlash()")) << dlv.Output();
    ASSERT_TRUE(dlv.Type(keys));
    auto st = dlv.Wait(absl::Seconds(30));
    ASSERT_TRUE(st.ok()) << st.status() << "\n" << dlv.Output();
    EXPECT_EQ(ChildProcess::DescribeWaitStatus(*st), "exit status 0") << dlv.Output();
    request.join();
    ASSERT_TRUE(held.ok()) << held.status();
    EXPECT_EQ(held->status, 200);
  };
  ASSERT_NO_FATAL_FAILURE(stop_at_breakpoint_then("first", "break main.handleSlash\n",
                                                  "Breakpoint 1 set at", "quit -c\ny\n"));
  auto disabled = ReadNotice(attach.get(), kdbg::v1::NOTICE_KIND_BREAKPOINTS_DISABLED);
  ASSERT_TRUE(disabled.has_value()) << agent_->Logs();
  EXPECT_THAT(disabled->message(),
              ::testing::HasSubstr("disabled the breakpoint the clients left (1 at "
                                   "main.handleSlash (main.go:10))"));
  for (int i = 0; i < 20; ++i) {
    const absl::Time sent = kdbg::MonotonicNow();
    auto r = HttpGet("127.0.0.1", target_->port(), "/", absl::Seconds(10));
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->status, 200);
    EXPECT_LT(kdbg::MonotonicNow() - sent, absl::Seconds(1)) << "request " << i;
  }
  ASSERT_NO_FATAL_FAILURE(
      stop_at_breakpoint_then("back", "breakpoints\n", "Breakpoint 1 (", "clearall\nquit -c\n"));
  // "Breakpoint 1 (enabled) at 0x... for main.handleSlash() ./main.go:10 (1)": listed as the client
  // came back, its total hit count the first dlv's one stop, none of the twenty requests since.
  std::ifstream in(dir + "/back/out");
  std::string line;
  std::string listed;
  while (std::getline(in, line)) {
    if (absl::StrContains(line, "Breakpoint 1 (")) listed = line;
  }
  EXPECT_THAT(listed, ::testing::HasSubstr("Breakpoint 1 (enabled) at"));
  EXPECT_TRUE(absl::EndsWith(listed, "main.go:10 (1)")) << listed;
  auto enabled = ReadNotice(attach.get(), kdbg::v1::NOTICE_KIND_BREAKPOINTS_ENABLED);
  ASSERT_TRUE(enabled.has_value()) << agent_->Logs();
  EXPECT_THAT(enabled->message(), ::testing::HasSubstr("a debugger client is back"));
  CancelAndDrain(&ctx, attach.get());
  ExpectReleased();
  if (!HasFailure()) std::filesystem::remove_all(dir);
}

// Both debuggers make killing the pod's process one keystroke away: Delve 1.27's `quit` asks "kill
// the headless instance? [Y/n]" then "kill the process? [Y/n]" (Enter twice sends Detach {"Kill":
// true}); VS Code's Stop on an attach configuration sends disconnect {terminateDebuggee: true}.
// Through kdbg neither kills it: dlv is told why (and exits), the IDE's disconnect only closes its
// own session, Delve stays attached, the target serves on, the session's user (kdbg attach) gets a
// kill-refused notice for each, and the session ends as ever.
TEST_F(AgentIntegrationTest, DebuggersAskingToKillTheTargetAreRefusedAndTheTargetServesOn) {
  StartAgent();
  auto stub = agent_->Stub(&controller_, pki_.get());
  grpc::ClientContext ctx;
  Deadline(&ctx, 120);
  auto attach = AttachReady(stub.get(), &ctx, "it-nokill");
  ASSERT_NE(attach, nullptr);
  TunnelBridge bridge(stub.get(), "it-nokill");

  std::string dir = MakeTempDir("kdbg-dlv-kill-");
  // With a breakpoint set, as a user would have one: Delve's kill (Detach with Kill) detaches
  // without removing its breakpoints, then sends SIGINT, on which a Go program exits (unless it
  // ignores SIGINT, as this one started under a test shell does).
  DlvRun dlv = RunDlvConnect(bridge.port(), dir, "yes-yes", "break main.handleSlash\nquit\ny\ny\n");
  ASSERT_TRUE(dlv.wait_status.ok()) << dlv.wait_status.status() << "\n" << dlv.out;
  EXPECT_THAT(dlv.out, ::testing::HasSubstr("kill the process?")) << "Delve's question changed";
  EXPECT_THAT(dlv.out, ::testing::HasSubstr("kdbg: refused to kill the target")) << dlv.out;
  EXPECT_THAT(dlv.out, ::testing::HasSubstr("Breakpoint 1 set at")) << dlv.out;
  // dlv connect halted the target; with no client left the agent resumes it (2 s), the breakpoint
  // kept and its stops continued.
  auto r = HttpGet("127.0.0.1", target_->port(), "/", absl::Seconds(10));
  ASSERT_TRUE(r.ok()) << "the target no longer serves: " << r.status() << "\n" << dlv.out;
  EXPECT_EQ(r->status, 200);

  // The session is still attached, with Delve serving the next client: an IDE attaches, then
  // stops debugging with "terminate". (A bridge carries one connection.)
  TunnelBridge ide_bridge(stub.get(), "it-nokill");
  auto dap = DapClient::Connect("127.0.0.1", ide_bridge.port());
  ASSERT_TRUE(dap.ok()) << dap.status();
  ASSERT_TRUE(dap->Request("initialize", {{"adapterID", "go"}, {"pathFormat", "path"}}).ok());
  auto attached = dap->Request("attach", {{"request", "attach"}, {"mode", "remote"}});
  ASSERT_TRUE(attached.ok()) << attached.status();
  ASSERT_TRUE(attached->value("success", false)) << attached->dump();
  ASSERT_TRUE(dap->Request("configurationDone", nlohmann::json::object()).ok());
  auto bye = dap->Request("disconnect", {{"restart", false}, {"terminateDebuggee", true}});
  ASSERT_TRUE(bye.ok()) << bye.status();
  EXPECT_TRUE(bye->value("success", false)) << bye->dump();
  std::optional<nlohmann::json> told;
  for (absl::Time end = kdbg::MonotonicNow() + absl::Seconds(10); kdbg::MonotonicNow() < end;) {
    told = dap->WaitEvent("output", end - kdbg::MonotonicNow());
    if (!told.has_value() || absl::StartsWith((*told)["body"].value("output", ""), "kdbg: ")) break;
  }
  ASSERT_TRUE(told.has_value()) << agent_->Logs();
  EXPECT_THAT((*told)["body"]["output"].get<std::string>(),
              ::testing::HasSubstr("disconnected without terminating the target"));
  for (int i = 0; i < 3; ++i) {
    r = HttpGet("127.0.0.1", target_->port(), "/", absl::Seconds(5));
    ASSERT_TRUE(r.ok()) << "the target no longer serves: " << r.status();
    EXPECT_EQ(r->status, 200);
  }
  grpc::ClientContext lctx;
  Deadline(&lctx, 10);
  kdbg::v1::ListSessionsResponse list;
  ASSERT_TRUE(stub->ListSessions(&lctx, {}, &list).ok());
  ASSERT_EQ(list.sessions_size(), 1);
  EXPECT_EQ(list.sessions(0).state(), kdbg::v1::SESSION_STATE_ATTACHED) << list.DebugString();
  const std::string logs = agent_->Logs();
  int refusals = 0;
  for (size_t at = logs.find("refused a debugger client's request to kill");
       at != std::string::npos;
       at = logs.find("refused a debugger client's request to kill", at + 1)) {
    ++refusals;
  }
  EXPECT_EQ(refusals, 2) << logs;

  // A client of the agent's Tunnel API that sends its last bytes with close_write in the same frame
  // (the CLI never does) gets no way around the refusal either.
  {
    grpc::ClientContext tctx;
    Deadline(&tctx, 30);
    auto tunnel = stub->Tunnel(&tctx);
    kdbg::v1::TunnelFrame f;
    f.set_session_id("it-nokill");
    ASSERT_TRUE(tunnel->Write(f));
    f.Clear();
    f.set_data(R"({"method":"RPCServer.Detach","params":[{"Kill":true}],"id":1})"
               "\n");
    f.set_close_write(true);
    ASSERT_TRUE(tunnel->Write(f));
    tunnel->WritesDone();
    std::string answer;
    while (tunnel->Read(&f)) answer += f.data();
    EXPECT_TRUE(tunnel->Finish().ok());
    EXPECT_THAT(answer, ::testing::HasSubstr("kdbg: refused to kill the target")) << answer;
    r = HttpGet("127.0.0.1", target_->port(), "/", absl::Seconds(10));
    ASSERT_TRUE(r.ok()) << "the target no longer serves: " << r.status();
    EXPECT_EQ(r->status, 200);
  }

  // The way out Delve offers that keeps the process: "yes" to "kill the headless instance?", "no"
  // to "kill the process?". dlv leaves cleanly and the session ends, safely, as if Ctrl-C.
  TunnelBridge last_bridge(stub.get(), "it-nokill");
  DlvRun last = RunDlvConnect(last_bridge.port(), dir, "yes-no", "quit\ny\nn\n");
  ASSERT_TRUE(last.wait_status.ok()) << last.wait_status.status() << "\n" << last.out;
  EXPECT_EQ(ChildProcess::DescribeWaitStatus(*last.wait_status), "exit status 0") << last.out;
  std::vector<kdbg::v1::NoticeEvent> notices;
  kdbg::v1::EndedEvent ended = ReadEnded(attach.get(), &notices);
  EXPECT_EQ(ended.reason(), kdbg::v1::END_REASON_REMOTE_CLIENT_LEFT) << ended.DebugString();
  EXPECT_TRUE(ended.target_alive());
  EXPECT_FALSE(ended.target_traced());
  attach->Finish();
  std::vector<std::string> refused;
  for (const auto& n : notices) {
    if (n.kind() == kdbg::v1::NOTICE_KIND_KILL_REFUSED) refused.push_back(n.message());
  }
  ASSERT_EQ(refused.size(), 3u) << agent_->Logs();
  EXPECT_THAT(refused[0], ::testing::HasSubstr("(dlv: quit, then y"));
  EXPECT_THAT(refused[0], ::testing::HasSubstr("the target runs on and Delve stays attached"));
  EXPECT_THAT(refused[1], ::testing::HasSubstr("an IDE's Stop"));
  EXPECT_THAT(refused[2], ::testing::HasSubstr("(dlv: quit, then y"));
  ExpectReleased();
  if (!HasFailure()) std::filesystem::remove_all(dir);
}

// Issue #16: a remote client holding a stop past the target's stop limit is told why kdbg
// resumed it, in its own protocol, through the tunnel (agent/service/debug_protocol.h). DAP (VS
// Code's remote attach): an `output` event naming the stop, the budget and the pod's liveness
// probe, then `continued` with allThreadsContinued, between two of Delve's messages. The target
// runs on; the CLI gets its stop-limit notice as before; the session stays attached.
TEST_F(AgentIntegrationTest, DapClientHoldingAStopPastTheLimitIsToldWhyAndSeesTheTargetRun) {
  StartAgent();
  auto stub = agent_->Stub(&controller_, pki_.get());
  grpc::ClientContext ctx;
  Deadline(&ctx, 120);
  kdbg::v1::AttachRequest req = AttachReq("it-limit-dap");
  req.mutable_target()->set_pod_namespace("default");
  req.mutable_target()->set_pod_name("hello-world");
  req.set_max_stop_ms(2000);  // room for the pause and stack below under load
  auto attach = stub->Attach(&ctx, req);
  kdbg::v1::Event e;
  ASSERT_TRUE(attach->Read(&e));
  ASSERT_EQ(e.notice().kind(), kdbg::v1::NOTICE_KIND_READY) << e.DebugString();

  TunnelBridge bridge(stub.get(), "it-limit-dap");
  auto dap = DapClient::Connect("127.0.0.1", bridge.port());
  ASSERT_TRUE(dap.ok()) << dap.status();
  ASSERT_TRUE(dap->Request("initialize", {{"adapterID", "go"},
                                          {"pathFormat", "path"},
                                          {"linesStartAt1", true},
                                          {"columnsStartAt1", true}})
                  .ok());
  ASSERT_TRUE(dap->Request("attach", {{"request", "attach"}, {"mode", "remote"}}).ok());
  std::string source = SourceDir() + "/tests/targets/hello-world/main.go";
  auto bp = dap->Request("setBreakpoints",
                         {{"source", {{"path", source}}}, {"breakpoints", {{{"line", 11}}}}});
  ASSERT_TRUE(bp.ok()) << bp.status();
  ASSERT_TRUE((*bp)["body"]["breakpoints"][0].value("verified", false)) << bp->dump();
  ASSERT_TRUE(dap->Request("configurationDone", nlohmann::json::object()).ok());

  // A request stops at the breakpoint; the IDE shows the stop and the user does nothing.
  absl::StatusOr<HttpResult> held;
  absl::Duration held_for;
  std::thread request([&] {
    absl::Time t0 = kdbg::MonotonicNow();
    held = HttpGet("127.0.0.1", target_->port(), "/", absl::Seconds(30));
    held_for = kdbg::MonotonicNow() - t0;
  });
  absl::Cleanup join = [&] {
    if (request.joinable()) request.join();
  };
  auto stopped = dap->WaitEvent("stopped", absl::Seconds(20));
  ASSERT_TRUE(stopped.has_value()) << agent_->Logs();
  EXPECT_EQ((*stopped)["body"]["reason"], "breakpoint") << stopped->dump();
  // Delve writes output events of its own (its console greeting): kdbg's is the one from kdbg.
  std::optional<nlohmann::json> output;
  for (absl::Time end = kdbg::MonotonicNow() + absl::Seconds(10); kdbg::MonotonicNow() < end;) {
    output = dap->WaitEvent("output", end - kdbg::MonotonicNow());
    if (!output.has_value() || absl::StartsWith((*output)["body"].value("output", ""), "kdbg: ")) {
      break;
    }
  }
  auto continued = dap->WaitEvent("continued", absl::Seconds(10));
  request.join();
  ASSERT_TRUE(output.has_value()) << agent_->Logs();
  EXPECT_EQ((*output)["body"]["category"], "important") << output->dump();
  std::string text = (*output)["body"]["output"].get<std::string>();
  EXPECT_THAT(text,
              ::testing::HasSubstr("kdbg: pod default/hello-world: the target was stopped for 2"));
  EXPECT_THAT(text,
              ::testing::HasSubstr("the longest stop the pod's liveness probe safely allows (2s)"));
  EXPECT_THAT(text, ::testing::HasSubstr("every breakpoint is kept"));
  ASSERT_TRUE(continued.has_value()) << agent_->Logs();
  EXPECT_EQ((*continued)["body"]["allThreadsContinued"], true) << continued->dump();
  EXPECT_EQ((*continued)["body"]["threadId"], (*stopped)["body"]["threadId"]);
  // The held request was answered although nobody continued: the target runs.
  ASSERT_TRUE(held.ok()) << held.status();
  EXPECT_EQ(held->status, 200);
  // (about the limit: the agent counts from the first of its ticks that saw the target stopped)
  EXPECT_GE(held_for, absl::Milliseconds(1000));
  // The CLI was told too, with the same facts.
  auto notice = ReadNotice(attach.get(), kdbg::v1::NOTICE_KIND_STOP_LIMIT);
  ASSERT_TRUE(notice.has_value());
  EXPECT_THAT(text, ::testing::HasSubstr(notice->message()));
  // While the IDE sends nothing, stops at its breakpoint are continued at once.
  for (int i = 0; i < 3; ++i) {
    absl::Time t = kdbg::MonotonicNow();
    auto r = HttpGet("127.0.0.1", target_->port(), "/", absl::Seconds(5));
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_LT(kdbg::MonotonicNow() - t, absl::Milliseconds(800));
  }
  // The session is still attached, and the DAP conversation goes on: the user pauses the program
  // the IDE shows running (kdbg halts the target for the returning client; Delve, which never knew
  // it ran, answers without a stopped event: the tunnel adds it), then looks at a stack.
  grpc::ClientContext lctx;
  Deadline(&lctx, 10);
  kdbg::v1::ListSessionsResponse list;
  ASSERT_TRUE(stub->ListSessions(&lctx, {}, &list).ok());
  ASSERT_EQ(list.sessions_size(), 1);
  EXPECT_EQ(list.sessions(0).state(), kdbg::v1::SESSION_STATE_ATTACHED) << list.DebugString();
  ASSERT_TRUE(dap->Request("pause", {{"threadId", (*stopped)["body"]["threadId"]}}).ok());
  auto paused = dap->WaitEvent("stopped", absl::Seconds(10));
  ASSERT_TRUE(paused.has_value()) << agent_->Logs();
  EXPECT_EQ((*paused)["body"]["reason"], "pause") << paused->dump();
  auto threads = dap->Request("threads", nlohmann::json::object());
  ASSERT_TRUE(threads.ok()) << threads.status();
  ASSERT_FALSE((*threads)["body"]["threads"].empty()) << threads->dump();
  auto frames = dap->Request("stackTrace",
                             {{"threadId", (*threads)["body"]["threads"][0]["id"]}, {"levels", 1}});
  ASSERT_TRUE(frames.ok()) << frames.status();
  EXPECT_FALSE((*frames)["body"]["stackFrames"].empty()) << frames->dump();
  EXPECT_TRUE(dap->Request("disconnect", {{"terminateDebuggee", false}}).ok());
  CancelAndDrain(&ctx, attach.get());
  ExpectReleased();
}

// The same for `dlv connect` (JSON-RPC, no server push): the user's next command after the resume
// is answered by kdbg with the explanation (dlv prints "Command failed: kdbg: ..."), and not run;
// the commands after it work as ever, with the user's breakpoint still set.
TEST_F(AgentIntegrationTest, DlvConnectHoldingAStopPastTheLimitIsToldWhyByItsNextCommand) {
  StartAgent();
  auto stub = agent_->Stub(&controller_, pki_.get());
  grpc::ClientContext ctx;
  Deadline(&ctx, 120);
  kdbg::v1::AttachRequest req = AttachReq("it-limit-dlv");
  req.mutable_target()->set_pod_namespace("default");
  req.mutable_target()->set_pod_name("hello-world");
  req.set_max_stop_ms(1500);
  auto attach = stub->Attach(&ctx, req);
  kdbg::v1::Event e;
  ASSERT_TRUE(attach->Read(&e));
  ASSERT_EQ(e.notice().kind(), kdbg::v1::NOTICE_KIND_READY) << e.DebugString();

  TunnelBridge bridge(stub.get(), "it-limit-dlv");
  std::string dir = MakeTempDir("kdbg-dlv-limit-");
  InteractiveDlv dlv(bridge.port(), dir);
  ASSERT_TRUE(dlv.status().ok()) << dlv.status();
  ASSERT_TRUE(dlv.Type("break main.handleSlash\ncontinue\n"));
  ASSERT_TRUE(dlv.WaitFor("Breakpoint 1 set at")) << dlv.Output();
  absl::StatusOr<HttpResult> held;
  std::thread request(
      [&] { held = HttpGet("127.0.0.1", target_->port(), "/", absl::Seconds(30)); });
  absl::Cleanup join = [&] {
    if (request.joinable()) request.join();
  };
  ASSERT_TRUE(dlv.WaitFor("> [Breakpoint 1] main.handleSlash()")) << dlv.Output();
  // The user sits at the prompt past the limit: the agent resumes the target.
  auto notice = ReadNotice(attach.get(), kdbg::v1::NOTICE_KIND_STOP_LIMIT);
  request.join();
  ASSERT_TRUE(notice.has_value());
  ASSERT_TRUE(held.ok()) << held.status();
  EXPECT_EQ(held->status, 200);
  // The next command gets the explanation instead of running; the ones after it work as ever (the
  // user's breakpoint is there), and quitting leaves the target running. Typed at once: each
  // command of a client the agent halted the target for starts the limit again.
  ASSERT_TRUE(dlv.Type("continue\nbreakpoints\nclearall\nquit -c\n"));
  auto st = dlv.Wait(absl::Seconds(30));
  std::string out = dlv.Output();
  ASSERT_TRUE(st.ok()) << st.status() << "\n" << out;
  EXPECT_TRUE(WIFEXITED(*st) && WEXITSTATUS(*st) == 0)
      << ChildProcess::DescribeWaitStatus(*st) << "\n"
      << out;
  EXPECT_THAT(out,
              ::testing::HasSubstr(
                  "Command failed: kdbg: pod default/hello-world: the target was stopped for"));
  EXPECT_THAT(
      out, ::testing::HasSubstr("the longest stop the pod's liveness probe safely allows (1.5s)"));
  EXPECT_THAT(out, ::testing::HasSubstr("every breakpoint is kept"));
  EXPECT_THAT(out,
              ::testing::HasSubstr("kdbg answered this request itself; it did not reach Delve"));
  EXPECT_THAT(out, ::testing::ContainsRegex("Breakpoint 1 \\(enabled\\) at .*main.handleSlash"));
  EXPECT_THAT(out, ::testing::HasSubstr("Breakpoint 1 cleared at"));
  auto r = HttpGet("127.0.0.1", target_->port(), "/", absl::Seconds(5));
  ASSERT_TRUE(r.ok()) << r.status();
  CancelAndDrain(&ctx, attach.get());
  ExpectReleased();
  if (!HasFailure()) std::filesystem::remove_all(dir);  // kept for post-mortem on failure
}

}  // namespace
}  // namespace kdbg::testing

namespace kdbg::testing {
namespace {

// Bytes from a fixed seed, so a failure replays.
std::string RandomBytes(size_t n, uint32_t seed) {
  std::mt19937 gen(seed);
  std::string out(n, '\0');
  for (char& c : out) c = static_cast<char>(gen() & 0xff);
  return out;
}

// One Tunnel call: a first frame naming `session_id` and carrying `data`; the client half-closes
// at once (`half_close`) or once a reply line came back. Returns what came back and the status.
struct TunnelResult {
  std::string data;
  grpc::Status status;
};
TunnelResult TunnelOnce(kdbg::v1::Agent::Stub* stub, const std::string& session_id,
                        const std::string& data, bool half_close, int deadline_s) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(deadline_s));
  auto stream = stub->Tunnel(&ctx);
  kdbg::v1::TunnelFrame f;
  f.set_session_id(session_id);
  f.set_data(data);
  stream->Write(f);
  TunnelResult out;
  kdbg::v1::TunnelFrame in;
  bool closed = half_close && stream->WritesDone();
  while (stream->Read(&in)) {
    out.data += in.data();
    // A JSON-RPC reply is one line: half-close once it is complete so the call ends.
    if (!closed && absl::StrContains(out.data, "\n")) closed = stream->WritesDone();
  }
  out.status = stream->Finish();
  return out;
}

// Hostile tunnel clients (issue 18): random bytes as the session name and as the bytes for Delve.
// Refused before any Delve starts, or closed by Delve; the attach session survives the garbage (a
// well-formed JSON-RPC call through a new tunnel still gets its answer), and ending it releases
// the target.
TEST_F(AgentIntegrationTest, TunnelOfRandomBytesIsRefusedOrClosedAndLeavesNothing) {
  StartAgent();
  auto stub = agent_->Stub(&controller_, pki_.get());

  // 1. No session yet: random bytes as the session name and the payload are refused, nothing runs.
  TunnelResult r = TunnelOnce(stub.get(), RandomBytes(64, 1), RandomBytes(4096, 2), false, 20);
  EXPECT_FALSE(r.status.ok());
  EXPECT_TRUE(r.status.error_code() == grpc::StatusCode::NOT_FOUND ||
              r.status.error_code() == grpc::StatusCode::INVALID_ARGUMENT)
      << r.status.error_code() << " " << r.status.error_message();
  EXPECT_TRUE(r.data.empty());
  EXPECT_TRUE(DlvProcessesFor(target_->pid()).empty());

  // 2. Random bytes straight at the agent's TLS port: the connection is closed, the agent lives.
  {
    int port = std::stoi(agent_->address().substr(agent_->address().rfind(':') + 1));
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(fd, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(static_cast<uint16_t>(port));
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)), 0);
    std::string junk = RandomBytes(16 * 1024, 3);
    (void)!::send(fd, junk.data(), junk.size(), MSG_NOSIGNAL);
    pollfd p{fd, POLLIN, 0};
    bool closed = false;
    for (int i = 0; i < 100 && !closed; ++i) {  // 10 s
      if (::poll(&p, 1, 100) > 0) {
        char buf[4096];
        ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
        closed = n <= 0;
      }
    }
    ::close(fd);
    EXPECT_TRUE(closed) << "the agent kept a connection that sent 16 KiB of random bytes";
  }

  // 3. An attach session, then random bytes into its Delve through the tunnel.
  grpc::ClientContext ctx;
  Deadline(&ctx, 120);
  kdbg::v1::AttachRequest req = AttachReq("it-attach-junk", "mallory");
  auto attach = stub->Attach(&ctx, req);
  kdbg::v1::Event e;
  ASSERT_TRUE(attach->Read(&e));
  ASSERT_TRUE(e.has_notice()) << e.DebugString();
  ASSERT_EQ(e.notice().kind(), kdbg::v1::NOTICE_KIND_READY);
  for (uint32_t seed = 10; seed < 13; ++seed) {
    TunnelResult junk = TunnelOnce(stub.get(), "it-attach-junk", RandomBytes(64 * 1024, seed),
                                   /*half_close=*/false, 30);
    // Delve closes a connection it cannot decode; either way the call ends, well before 30 s.
    EXPECT_NE(junk.status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED)
        << "seed " << seed << ": " << junk.status.error_message();
  }
  // The session survived: a well-formed call through a new tunnel is answered.
  TunnelResult good = TunnelOnce(
      stub.get(), "it-attach-junk",
      "{\"method\":\"RPCServer.State\",\"params\":[{\"NonBlocking\":true}],\"id\":7}\n", false, 30);
  EXPECT_TRUE(absl::StrContains(good.data, "\"id\":7"))
      << good.data << " " << good.status.error_message();
  auto served = HttpGet("127.0.0.1", target_->port());
  ASSERT_TRUE(served.ok()) << served.status();
  EXPECT_EQ(served->status, 200);
  CancelAndDrain(&ctx, attach.get());
  ExpectReleased();
}

}  // namespace
}  // namespace kdbg::testing

namespace kdbg::testing {
namespace {

// Issue 18: a consumer slower than the hits, with real Delve and the real stream. The agent (here
// a 16-event queue) drops hits rather than buffer them or hold the target, says so in the stream
// (NOTICE_KIND_EVENTS_DROPPED "N hit events dropped: ..."), and counts them: the hits received
// plus those reported dropped are the engine's hits, and /metrics agrees. The session ends at its
// --max-hits and the target is released.
TEST_F(AgentIntegrationTest, SlowConsumerIsToldOfDroppedHitsThroughTheRealStream) {
  StartAgent({.event_queue = 16});
  // A client window that stays at HTTP/2's 64 KiB (no BDP growth): once it is full, what the agent
  // cannot hand to the transport waits in its own queue, as for a consumer on a slow link.
  tls::ClientTlsFiles files{pki_->ca().cert_path, controller_.cert_path, controller_.key_path};
  grpc::ChannelArguments args;
  args.SetSslTargetNameOverride("localhost");
  args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  auto creds = tls::MakeClientCredentials(files);
  ASSERT_TRUE(creds.ok()) << creds.status();
  auto stub = kdbg::v1::Agent::NewStub(grpc::CreateCustomChannel(agent_->address(), *creds, args));

  constexpr int kMaxHits = 1500;
  kdbg::v1::TraceRequest req = TraceReq("it-slow-consumer");
  req.mutable_options()->set_max_hits(kMaxHits);
  req.mutable_options()->set_max_hits_per_second(1000);  // the agent's cap; the load stays under
  grpc::ClientContext ctx;
  Deadline(&ctx, 180);
  auto reader = stub->Trace(&ctx, req);
  kdbg::v1::Event e;
  ASSERT_TRUE(reader->Read(&e));
  ASSERT_TRUE(e.has_armed()) << e.DebugString();

  // The consumer reads nothing while requests hit the tracepoint (one at a time, paced under the
  // rate limit; bounded by count and 90 s) until the agent ends the session at its max hits.
  std::atomic<bool> stop{false};
  std::atomic<int> served{0};
  std::thread load([&] {
    const absl::Time end = kdbg::MonotonicNow() + absl::Seconds(90);
    for (int i = 0; i < 20000 && !stop && kdbg::MonotonicNow() < end; ++i) {
      auto r = HttpGet("127.0.0.1", target_->port(), "/", absl::Seconds(10));
      if (r.ok() && r->status == 200) ++served;
      absl::SleepFor(absl::Microseconds(1500));
    }
  });
  bool ended = false;
  for (int i = 0; i < 1000 && !ended; ++i) {  // 100 s
    ended = absl::StrContains(agent_->Logs(), "\"msg\":\"session ended\"");
    if (!ended) absl::SleepFor(absl::Milliseconds(100));
  }
  stop = true;
  load.join();
  ASSERT_TRUE(ended) << "the session did not reach " << kMaxHits << " hits; " << served
                     << " requests served\n"
                     << agent_->Logs();

  // Now the consumer reads everything the agent kept.
  int64_t received = 0, reported_dropped = 0, last_count = 0, notices = 0;
  kdbg::v1::EndedEvent end_event;
  bool got_ended = false;
  while (reader->Read(&e)) {
    if (e.has_hit()) {
      ++received;
      EXPECT_GT(e.hit().hit_count(), last_count) << "hits out of order";
      last_count = e.hit().hit_count();
    } else if (e.has_notice() && e.notice().kind() == kdbg::v1::NOTICE_KIND_EVENTS_DROPPED) {
      ++notices;
      int64_t n = 0;
      EXPECT_TRUE(
          absl::SimpleAtoi(e.notice().message().substr(0, e.notice().message().find(' ')), &n))
          << e.notice().message();
      EXPECT_TRUE(absl::StrContains(e.notice().message(), "hit events dropped"))
          << e.notice().message();
      reported_dropped += n;
    } else if (e.has_ended()) {
      got_ended = true;
      end_event = e.ended();
    }
  }
  EXPECT_TRUE(reader->Finish().ok());
  ASSERT_TRUE(got_ended);
  EXPECT_EQ(end_event.reason(), kdbg::v1::END_REASON_MAX_HITS) << end_event.DebugString();
  EXPECT_EQ(end_event.hits(), kMaxHits);
  EXPECT_GT(notices, 0) << "no drop was reported; received " << received;
  EXPECT_GT(reported_dropped, 0);
  EXPECT_EQ(received + reported_dropped, end_event.hits())
      << received << " received, " << reported_dropped << " reported dropped";
  // What the agent holds is bounded: far fewer hits reached the consumer than the engine saw.
  EXPECT_LT(received, kMaxHits / 2);
  auto metrics = HttpGet("127.0.0.1", agent_->health_port(), "/metrics");
  ASSERT_TRUE(metrics.ok()) << metrics.status();
  EXPECT_TRUE(absl::StrContains(metrics->body,
                                absl::StrCat("kdbg_agent_events_dropped_total ", reported_dropped)))
      << metrics->body;
  ExpectReleased();
}

}  // namespace
}  // namespace kdbg::testing
