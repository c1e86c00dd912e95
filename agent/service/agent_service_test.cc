// The Agent service in-process over real mutual TLS on loopback (port 0), with fake engine parts.
#include "agent/service/agent_service.h"
#include "common/clock.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <thread>

#include "agent/service/health_server.h"
#include "agent/service/recovered_sessions.h"
#include "agent/service/testing/fake_debug_session.h"
#include "agent/service/testing/fake_resolver.h"
#include "common/tls.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "tests/support/certs/test_certs.h"
#include "tests/support/grpc_calls.h"
#include "tests/support/test_env.h"

namespace kdbg::agent {
namespace {

using kdbg::testing::CancelAndDrain;
using kdbg::testing::CertFiles;
using kdbg::testing::TestPki;
using testing::FakeDebugSessionFactory;
using testing::FakeResolver;

// Waits (real time) for a condition another thread makes true.
template <typename F>
bool WaitFor(F pred, absl::Duration timeout = absl::Seconds(10)) {
  absl::Time deadline = kdbg::MonotonicNow() + timeout;
  while (!pred()) {
    if (kdbg::MonotonicNow() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(2));
  }
  return true;
}

// A one-connection TCP echo server on 127.0.0.1:0, standing in for Delve's server.
class EchoServer {
 public:
  EchoServer() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 || ::listen(fd_, 4) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      ADD_FAILURE() << "echo server on 127.0.0.1: " << std::strerror(errno);
    }
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] {
      int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      char buf[4096];
      ssize_t n;
      while ((n = ::read(c, buf, sizeof(buf))) > 0) {
        received_ += n;
        [[maybe_unused]] ssize_t w = ::write(c, buf, static_cast<size_t>(n));
      }
      saw_eof_ = (n == 0);
      ::close(c);
    });
  }
  ~EchoServer() {
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  std::atomic<bool> saw_eof_{false};
  std::atomic<int64_t> received_{0};

 private:
  int fd_;
  int port_;
  std::thread thread_;
};

class AgentServiceTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto pki = TestPki::Create("kdbg-test-ca");
    ASSERT_TRUE(pki.ok()) << pki.status();
    pki_ = pki->release();
    auto other = TestPki::Create("other-ca");
    ASSERT_TRUE(other.ok()) << other.status();
    other_ = other->release();
    server_cert_ = new CertFiles(*pki_->Issue({"kdbg-agent", {"localhost"}, {"127.0.0.1"}}));
    controller_ = new CertFiles(*pki_->Issue({"kdbg-controller"}));
    stranger_ = new CertFiles(*pki_->Issue({"someone-else"}));
    foreign_ = new CertFiles(*other_->Issue({"kdbg-controller"}));
  }
  static void TearDownTestSuite() {
    delete server_cert_;
    delete controller_;
    delete stranger_;
    delete foreign_;
    delete pki_;
    delete other_;
  }

  void Start(int max_sessions = 4) {
    resolver_.Add("c1", 101);
    resolver_.Add("c2", 102);
    SessionManager::Options mo;
    mo.node_name = "node-a";
    mo.max_sessions = max_sessions;
    manager_ =
        std::make_unique<SessionManager>(mo, &resolver_, &factory_, RealClock::Get(), &metrics_);
    AgentService::Options so;
    so.node_name = "node-a";
    so.delve_version = "1.20.2";
    so.list_functions = list_functions_;
    so.recovered_sessions = recovered_dir_;
    service_ = std::make_unique<AgentService>(so, manager_.get(), &resolver_, &metrics_);
    auto creds = tls::MakeServerCredentials(
        {server_cert_->cert_path, server_cert_->key_path, pki_->ca().cert_path},
        {"kdbg-controller"});
    ASSERT_TRUE(creds.ok()) << creds.status();
    grpc::ServerBuilder b;
    b.AddListeningPort("127.0.0.1:0", *creds, &port_);
    b.RegisterService(service_.get());
    server_ = b.BuildAndStart();
    ASSERT_NE(server_, nullptr);
  }
  void TearDown() override {
    if (manager_) manager_->Shutdown(kdbg::v1::END_REASON_AGENT_SHUTDOWN, absl::Seconds(10));
    if (server_) server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
    server_.reset();
    service_.reset();
    manager_.reset();
  }

  std::unique_ptr<kdbg::v1::Agent::Stub> Stub(const CertFiles* cert,
                                              const TestPki* roots = nullptr) {
    tls::ClientTlsFiles files{(roots ? roots : pki_)->ca().cert_path, cert ? cert->cert_path : "",
                              cert ? cert->key_path : ""};
    auto ch = tls::MakeSecureChannel("127.0.0.1:" + std::to_string(port_), files, "localhost");
    EXPECT_TRUE(ch.ok());
    return kdbg::v1::Agent::NewStub(*ch);
  }
  static void Deadline(grpc::ClientContext* ctx, int seconds = 20) {
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(seconds));
  }
  static kdbg::v1::TraceRequest TraceReq(const std::string& container, const std::string& id) {
    kdbg::v1::TraceRequest r;
    r.mutable_target()->set_container_id(container);
    r.mutable_options()->set_script(
        "trace handleSlash main.go:10\non handleSlash print r.RemoteAddr\ncontinue\n");
    r.set_user("alice");
    r.set_session_id(id);
    return r;
  }

  static TestPki* pki_;
  static TestPki* other_;
  static CertFiles* server_cert_;
  static CertFiles* controller_;
  static CertFiles* stranger_;
  static CertFiles* foreign_;

  FakeResolver resolver_;
  std::function<absl::StatusOr<kdbg::v1::FunctionList>(const kdbg::v1::ResolvedTarget&,
                                                       const kdbg::v1::FunctionQuery&)>
      list_functions_;
  std::string recovered_dir_;
  FakeDebugSessionFactory factory_;
  AgentMetrics metrics_;
  std::unique_ptr<SessionManager> manager_;
  std::unique_ptr<AgentService> service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

TestPki* AgentServiceTest::pki_ = nullptr;
TestPki* AgentServiceTest::other_ = nullptr;
CertFiles* AgentServiceTest::server_cert_ = nullptr;
CertFiles* AgentServiceTest::controller_ = nullptr;
CertFiles* AgentServiceTest::stranger_ = nullptr;
CertFiles* AgentServiceTest::foreign_ = nullptr;

TEST_F(AgentServiceTest, TraceStreamsArmedHitsAndEndedOnStop) {
  Start();
  auto stub = Stub(controller_);
  grpc::ClientContext ctx;
  Deadline(&ctx);
  auto reader = stub->Trace(&ctx, TraceReq("c1", "t1"));
  kdbg::v1::Event e;
  ASSERT_TRUE(reader->Read(&e));
  ASSERT_TRUE(e.has_armed()) << e.DebugString();
  EXPECT_EQ(e.session_id(), "t1");
  ASSERT_TRUE(factory_.InjectHits("t1", 5));
  for (int i = 1; i <= 5; ++i) {
    ASSERT_TRUE(reader->Read(&e));
    ASSERT_TRUE(e.has_hit());
    EXPECT_EQ(e.hit().hit_count(), i);
    EXPECT_EQ(e.hit().vars(0).name(), "r.RemoteAddr");
  }

  // ListSessions sees it; StopSession ends it and answers with the EndedEvent.
  {
    grpc::ClientContext lc;
    Deadline(&lc);
    kdbg::v1::ListSessionsResponse list;
    ASSERT_TRUE(stub->ListSessions(&lc, {}, &list).ok());
    ASSERT_EQ(list.sessions_size(), 1);
    EXPECT_EQ(list.sessions(0).id(), "t1");
    EXPECT_EQ(list.sessions(0).hits(), 5);
    EXPECT_EQ(list.sessions(0).host_pid(), 101);
  }
  grpc::ClientContext sc;
  Deadline(&sc);
  kdbg::v1::StopSessionRequest stop;
  stop.set_session_id("t1");
  kdbg::v1::StopSessionResponse stopped;
  ASSERT_TRUE(stub->StopSession(&sc, stop, &stopped).ok());
  EXPECT_EQ(stopped.ended().reason(), kdbg::v1::END_REASON_STOP_REQUESTED);
  EXPECT_EQ(stopped.ended().hits(), 5);

  ASSERT_TRUE(reader->Read(&e));
  ASSERT_TRUE(e.has_ended());
  EXPECT_EQ(e.ended().reason(), kdbg::v1::END_REASON_STOP_REQUESTED);
  EXPECT_FALSE(reader->Read(&e));
  grpc::Status st = reader->Finish();
  EXPECT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(metrics_.total("trace", "stop_requested"), 1);
}

TEST_F(AgentServiceTest, CancelledStreamEndsTheSessionAsClientGone) {
  Start();
  auto stub = Stub(controller_);
  auto ctx = std::make_unique<grpc::ClientContext>();
  Deadline(ctx.get());
  auto reader = stub->Trace(ctx.get(), TraceReq("c1", "t2"));
  kdbg::v1::Event e;
  ASSERT_TRUE(reader->Read(&e));
  ASSERT_TRUE(e.has_armed());
  ctx->TryCancel();
  EXPECT_TRUE(WaitFor([&] { return factory_.end_reasons().size() == 1; }));
  EXPECT_EQ(factory_.end_reasons().at(0), kdbg::v1::END_REASON_CLIENT_GONE);
  EXPECT_TRUE(WaitFor([&] { return manager_->size() == 0; }));
  while (reader->Read(&e)) {
  }
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
}

TEST_F(AgentServiceTest, DroppedConnectionEndsTheSession) {
  Start();
  {
    auto stub = Stub(controller_);
    grpc::ClientContext ctx;
    Deadline(&ctx);
    auto reader = stub->Trace(&ctx, TraceReq("c1", "t3"));
    kdbg::v1::Event e;
    ASSERT_TRUE(reader->Read(&e));
    ASSERT_TRUE(e.has_armed());
    // the channel goes away with the stub: the call is torn down
    CancelAndDrain(&ctx, reader.get());
  }
  EXPECT_TRUE(WaitFor([&] { return factory_.live() == 0 && manager_->size() == 0; }));
  ASSERT_EQ(factory_.end_reasons().size(), 1u);
  EXPECT_EQ(factory_.end_reasons()[0], kdbg::v1::END_REASON_CLIENT_GONE);
}

TEST_F(AgentServiceTest, ClientsWithoutTheRightCertificateAreRefusedAndNothingRuns) {
  Start();
  struct Case {
    const char* name;
    const CertFiles* cert;
    grpc::StatusCode code;
  } cases[] = {
      {"no certificate", nullptr, grpc::StatusCode::UNAVAILABLE},
      {"another CA", foreign_, grpc::StatusCode::UNAVAILABLE},
      {"not the controller", stranger_, grpc::StatusCode::PERMISSION_DENIED},
  };
  for (const auto& c : cases) {
    auto stub = Stub(c.cert);
    grpc::ClientContext ctx;
    Deadline(&ctx, 10);
    auto reader = stub->Trace(&ctx, TraceReq("c1", std::string("x-") + c.name));
    kdbg::v1::Event e;
    EXPECT_FALSE(reader->Read(&e)) << c.name;
    EXPECT_EQ(reader->Finish().error_code(), c.code) << c.name;
    grpc::ClientContext vc;
    Deadline(&vc, 10);
    kdbg::v1::VersionInfo v;
    EXPECT_EQ(stub->Version(&vc, {}, &v).error_code(), c.code) << c.name;
  }
  EXPECT_EQ(resolver_.resolve_calls(), 0);
  EXPECT_EQ(factory_.started(), 0);
  EXPECT_EQ(manager_->size(), 0);
}

TEST_F(AgentServiceTest, LimitsAreRefusedClearly) {
  Start(/*max_sessions=*/1);
  auto stub = Stub(controller_);
  grpc::ClientContext c1;
  Deadline(&c1);
  auto r1 = stub->Trace(&c1, TraceReq("c1", "first"));
  kdbg::v1::Event e;
  ASSERT_TRUE(r1->Read(&e));
  ASSERT_TRUE(e.has_armed());

  grpc::ClientContext c2;
  Deadline(&c2);
  auto r2 = stub->Trace(&c2, TraceReq("c2", "second"));
  EXPECT_FALSE(r2->Read(&e));
  grpc::Status st = r2->Finish();
  EXPECT_EQ(st.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_NE(st.error_message().find("limit of 1 concurrent debug sessions"), std::string::npos)
      << st.error_message();
  CancelAndDrain(&c1, r1.get());
}

TEST_F(AgentServiceTest, SecondSessionOnTheSameTargetGetsErrorEventAndAlreadyExists) {
  Start();
  auto stub = Stub(controller_);
  grpc::ClientContext c1;
  Deadline(&c1);
  auto r1 = stub->Trace(&c1, TraceReq("c1", "first"));
  kdbg::v1::Event e;
  ASSERT_TRUE(r1->Read(&e));
  ASSERT_TRUE(e.has_armed());
  grpc::ClientContext c2;
  Deadline(&c2);
  auto r2 = stub->Trace(&c2, TraceReq("c1", "second"));
  ASSERT_TRUE(r2->Read(&e));
  ASSERT_TRUE(e.has_error());
  EXPECT_EQ(e.error().code(), "ALREADY_EXISTS");
  EXPECT_FALSE(r2->Read(&e));
  EXPECT_EQ(r2->Finish().error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(factory_.started(), 1);
  CancelAndDrain(&c1, r1.get());
}

TEST_F(AgentServiceTest, TunnelCarriesBytesBothWaysAndHalfCloses) {
  EchoServer echo;
  FakeDebugSessionFactory::Options o;
  o.delve_address = echo.address();
  factory_.set_options(o);
  Start();
  auto stub = Stub(controller_);
  grpc::ClientContext ac;
  Deadline(&ac);
  kdbg::v1::AttachRequest req;
  req.mutable_target()->set_container_id("c1");
  req.set_session_id("a1");
  req.set_user("bob");
  auto attach = stub->Attach(&ac, req);
  kdbg::v1::Event e;
  ASSERT_TRUE(attach->Read(&e));
  ASSERT_TRUE(e.has_notice());
  EXPECT_EQ(e.notice().kind(), kdbg::v1::NOTICE_KIND_READY);

  grpc::ClientContext tc;
  Deadline(&tc);
  auto tunnel = stub->Tunnel(&tc);
  kdbg::v1::TunnelFrame f;
  f.set_session_id("a1");
  f.set_data("{\"method\":\"RPCServer.State\"}");
  ASSERT_TRUE(tunnel->Write(f));
  std::string got;
  kdbg::v1::TunnelFrame in;
  while (got.size() < f.data().size() && tunnel->Read(&in)) got += in.data();
  EXPECT_EQ(got, f.data());
  // 1 MiB more, to cross the pump's buffers.
  std::string big(1 << 20, 'x');
  kdbg::v1::TunnelFrame bf;
  bf.set_data(big);
  ASSERT_TRUE(tunnel->Write(bf));
  size_t echoed = 0;
  while (echoed < big.size() && tunnel->Read(&in)) echoed += in.data().size();
  EXPECT_EQ(echoed, big.size());
  // Half-close: the echo server sees EOF, closes, and the tunnel ends cleanly.
  ASSERT_TRUE(tunnel->WritesDone());
  bool saw_close = false;
  while (tunnel->Read(&in)) saw_close = saw_close || in.close_write();
  EXPECT_TRUE(saw_close);
  grpc::Status st = tunnel->Finish();
  EXPECT_TRUE(st.ok()) << st.error_message();
  EXPECT_TRUE(echo.saw_eof_);

  // A tunnel to an unknown session is refused.
  grpc::ClientContext bc;
  Deadline(&bc);
  auto bad = stub->Tunnel(&bc);
  kdbg::v1::TunnelFrame nf;
  nf.set_session_id("nope");
  bad->Write(nf);
  while (bad->Read(&in)) {
  }
  EXPECT_EQ(bad->Finish().error_code(), grpc::StatusCode::NOT_FOUND);

  CancelAndDrain(&ac, attach.get());
  EXPECT_TRUE(WaitFor([&] { return factory_.live() == 0; }));
}

TEST_F(AgentServiceTest, TunnelEndsWhenTheSessionEnds) {
  // A listener that accepts and holds the connection open: only the session's end can close it.
  EchoServer echo;
  FakeDebugSessionFactory::Options o;
  o.delve_address = echo.address();
  factory_.set_options(o);
  Start();
  auto stub = Stub(controller_);
  grpc::ClientContext ac;
  Deadline(&ac);
  kdbg::v1::AttachRequest req;
  req.mutable_target()->set_container_id("c1");
  req.set_session_id("a2");
  auto attach = stub->Attach(&ac, req);
  kdbg::v1::Event e;
  ASSERT_TRUE(attach->Read(&e));
  grpc::ClientContext tc;
  Deadline(&tc);
  auto tunnel = stub->Tunnel(&tc);
  kdbg::v1::TunnelFrame f;
  f.set_session_id("a2");
  f.set_data("ping");
  ASSERT_TRUE(tunnel->Write(f));
  kdbg::v1::TunnelFrame in;
  ASSERT_TRUE(tunnel->Read(&in));
  EXPECT_EQ(in.data(), "ping");
  ac.TryCancel();  // ends the attach session -> its tunnels close
  while (tunnel->Read(&in)) {
  }
  grpc::Status st = tunnel->Finish();
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAVAILABLE) << st.error_message();
  EXPECT_NE(st.error_message().find("session ended"), std::string::npos) << st.error_message();
  while (attach->Read(&e)) {
  }
  attach->Finish();
}

TEST_F(AgentServiceTest, ResolveAndVersion) {
  Start();
  auto stub = Stub(controller_);
  grpc::ClientContext rc;
  Deadline(&rc);
  kdbg::v1::ResolveRequest rr;
  rr.mutable_target()->set_container_id("c2");
  kdbg::v1::ResolvedTarget t;
  ASSERT_TRUE(stub->Resolve(&rc, rr, &t).ok());
  EXPECT_EQ(t.host_pid(), 102);
  EXPECT_EQ(t.node_name(), "node-a");
  grpc::ClientContext nc;
  Deadline(&nc);
  rr.mutable_target()->set_container_id("missing");
  EXPECT_EQ(stub->Resolve(&nc, rr, &t).error_code(), grpc::StatusCode::NOT_FOUND);
  grpc::ClientContext vc;
  Deadline(&vc);
  kdbg::v1::VersionInfo v;
  ASSERT_TRUE(stub->Version(&vc, {}, &v).ok());
  EXPECT_EQ(v.component(), "kdbg-agent");
  EXPECT_EQ(v.delve_version(), "1.20.2");
  EXPECT_EQ(v.node_name(), "node-a");
  grpc::ClientContext sc;
  Deadline(&sc);
  kdbg::v1::StopSessionRequest stop;
  stop.set_session_id("nope");
  kdbg::v1::StopSessionResponse resp;
  EXPECT_EQ(stub->StopSession(&sc, stop, &resp).error_code(), grpc::StatusCode::NOT_FOUND);
}

// A session a killed agent left, ended by its guardian: StopSession of its ID answers with the
// recorded end (how the controller learns it), and an ID with no record is still NOT_FOUND.
TEST_F(AgentServiceTest, StopOfARecoveredSessionAnswersItsRecordedEnd) {
  recovered_dir_ = kdbg::testing::MakeTempDir("agent-recovered");
  kdbg::v1::EndedEvent rec;
  rec.set_reason(kdbg::v1::END_REASON_RECOVERED);
  rec.set_target_alive(true);
  rec.set_message("the agent's guardian recovered Delve pid 7: target running, detached");
  ASSERT_TRUE(RecoveredSessions(recovered_dir_).Record("3f9c0a7d12e4b856", rec).ok());
  Start();
  auto stub = Stub(controller_);
  grpc::ClientContext sc;
  Deadline(&sc);
  kdbg::v1::StopSessionRequest stop;
  stop.set_session_id("3f9c0a7d12e4b856");
  kdbg::v1::StopSessionResponse resp;
  ASSERT_TRUE(stub->StopSession(&sc, stop, &resp).ok());
  EXPECT_EQ(resp.ended().reason(), kdbg::v1::END_REASON_RECOVERED);
  EXPECT_TRUE(resp.ended().target_alive());
  EXPECT_FALSE(resp.ended().target_traced());
  EXPECT_EQ(resp.ended().message(), rec.message());
  grpc::ClientContext nc;
  Deadline(&nc);
  stop.set_session_id("0000000000000000");
  EXPECT_EQ(stub->StopSession(&nc, stop, &resp).error_code(), grpc::StatusCode::NOT_FOUND);
  std::filesystem::remove_all(recovered_dir_);
}

// ListFunctions: the resolved target's process is what the lister reads; the limit is clamped; a
// process replaced while it was read is refused; an agent without a lister says so.
TEST_F(AgentServiceTest, ListFunctionsReadsTheResolvedProcessAndRefusesAReplacedOne) {
  std::vector<std::pair<int, int64_t>> seen;  // pid, limit
  bool replace = false;
  list_functions_ =
      [&](const kdbg::v1::ResolvedTarget& t,
          const kdbg::v1::FunctionQuery& q) -> absl::StatusOr<kdbg::v1::FunctionList> {
    seen.emplace_back(t.host_pid(), q.limit());
    if (replace) resolver_.Add("c2", 202);  // the container restarted meanwhile
    kdbg::v1::FunctionList l;
    l.add_functions()->set_name("main.handleSlash");
    l.set_total(1);
    l.set_host_pid(t.host_pid());
    return l;
  };
  Start();
  auto stub = Stub(controller_);
  kdbg::v1::ListFunctionsRequest req;
  req.mutable_target()->set_container_id("c2");
  req.mutable_query()->set_regexp("handle");
  req.mutable_query()->set_limit(1000000);
  kdbg::v1::FunctionList list;
  grpc::ClientContext c1;
  Deadline(&c1);
  grpc::Status st = stub->ListFunctions(&c1, req, &list);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(list.functions(0).name(), "main.handleSlash");
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].first, 102);
  EXPECT_EQ(seen[0].second, AgentService::kMaxFunctionsPerCall);
  replace = true;
  grpc::ClientContext c2;
  Deadline(&c2);
  st = stub->ListFunctions(&c2, req, &list);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_NE(st.error_message().find("the container's process changed while its functions were "
                                    "read (pid 102 -> 202)"),
            std::string::npos)
      << st.error_message();
  grpc::ClientContext c3;
  Deadline(&c3);
  req.mutable_target()->set_container_id("missing");
  EXPECT_EQ(stub->ListFunctions(&c3, req, &list).error_code(), grpc::StatusCode::NOT_FOUND);
  grpc::ClientContext c4;
  Deadline(&c4);
  EXPECT_EQ(Stub(stranger_)->ListFunctions(&c4, req, &list).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(AgentServiceTest, ListFunctionsWithoutAListerIsUnimplemented) {
  Start();
  grpc::ClientContext c;
  Deadline(&c);
  kdbg::v1::ListFunctionsRequest req;
  req.mutable_target()->set_container_id("c1");
  kdbg::v1::FunctionList list;
  EXPECT_EQ(Stub(controller_)->ListFunctions(&c, req, &list).error_code(),
            grpc::StatusCode::UNIMPLEMENTED);
}

TEST(HealthServerTest, ServesHealthReadinessAndMetrics) {
  AgentMetrics metrics;
  metrics.Hit();
  absl::Status ready = absl::FailedPreconditionError("Delve not found at /nope (--dlv)");
  std::string ebpf;
  HealthServer health(
      &metrics, [&] { return ready; }, [&] { return ebpf; });
  auto port = health.Start("127.0.0.1:0");
  ASSERT_TRUE(port.ok()) << port.status();
  httplib::Client client("127.0.0.1", *port);
  auto h = client.Get("/healthz");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 200);
  auto r = client.Get("/readyz");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503);
  EXPECT_NE(r->body.find("Delve not found"), std::string::npos);
  ready = absl::OkStatus();
  r = client.Get("/readyz");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "ready\n");
  // A node where the eBPF engine cannot run stays ready (Delve runs) and says why.
  ebpf = "attach a uprobe to /proc/self/exe at offset 0x1040: Permission denied";
  r = client.Get("/readyz");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "ready; eBPF engine unavailable: " + ebpf + "\n");
  auto m = client.Get("/metrics");
  ASSERT_TRUE(m);
  EXPECT_NE(m->body.find("kdbg_agent_hits_total 1\n"), std::string::npos) << m->body;
  health.Stop();
}

TEST(HealthServerTest, ReadinessChecksDelveAndTheProcessTable) {
  EXPECT_FALSE(CheckAgentReady("/nonexistent/dlv", "/proc").ok());
  std::string empty = ::testing::TempDir();
  EXPECT_FALSE(CheckAgentReady("/bin/sh", empty).ok());
}

}  // namespace
}  // namespace kdbg::agent
