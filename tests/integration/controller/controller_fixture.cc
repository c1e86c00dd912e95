#include "tests/integration/controller/controller_fixture.h"

#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "common/grpc_limits.h"
#include "common/status.h"
#include "common/tls.h"
#include "controller/testing/pods.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/server_builder.h"
#include "tests/support/test_env.h"

namespace kdbg::controller::testing {

absl::StatusOr<std::unique_ptr<ControllerFixture>> ControllerFixture::Start(
    const ControllerFixtureOptions& options) {
  std::unique_ptr<ControllerFixture> f(new ControllerFixture());
  KDBG_ASSIGN_OR_RETURN(f->pki_, kdbg::testing::TestPki::Create("kdbg-controller-test-ca"));
  KDBG_ASSIGN_OR_RETURN(kdbg::testing::CertFiles agent_cert,
                        f->pki_->Issue({"kdbg-agent", {"kdbg-agent"}, {"127.0.0.2", "127.0.0.3"}}));
  KDBG_ASSIGN_OR_RETURN(f->controller_cert_,
                        f->pki_->Issue({"kdbg-controller", {"localhost"}, {"127.0.0.1"}}));
  const std::string ca = f->pki_->ca().cert_path;
  KDBG_ASSIGN_OR_RETURN(f->agent_creds_,
                        tls::MakeServerCredentials({agent_cert.cert_path, agent_cert.key_path, ca},
                                                   {"kdbg-controller"}));
  f->agent_port_ = kdbg::testing::FreePort();
  f->agent_a_ = std::make_unique<FakeAgent>("node-a", absl::StrCat("127.0.0.2:", f->agent_port_),
                                            f->agent_creds_);
  f->agent_b_ = std::make_unique<FakeAgent>("node-b", absl::StrCat("127.0.0.3:", f->agent_port_),
                                            f->agent_creds_);
  if (!f->agent_a_->ok() || !f->agent_b_->ok()) {
    return absl::UnavailableError("cannot start the fake agents on 127.0.0.2/.3");
  }

  // The cluster: alice may debug in default (and list/delete there); bob only authenticates.
  kube::UserInfo alice;
  alice.authenticated = true;
  alice.username = "alice";
  alice.groups = {"sre", "system:authenticated"};
  f->kube_.AddToken("t-alice", alice);
  kube::UserInfo bob;
  bob.authenticated = true;
  bob.username = "bob";
  f->kube_.AddToken("t-bob", bob);
  kube::AccessRule rule;
  rule.name = "RoleBinding \"debuggers\"";
  rule.users = {"alice"};
  rule.verbs = {"create", "list", "delete"};  // exactly kdbg-user
  rule.api_groups = {"kdbg.io"};
  rule.resources = {"debugsessions"};
  rule.namespaces = {"default", "kube-system"};
  f->kube_.AddRule(rule);
  f->kube_.AddPod(RunningPod("default", "web-a", "node-a"));
  f->kube_.AddPod(RunningPod("default", "web-b", "node-b"));
  f->kube_.AddPod(RunningPod("default", "web-c", "node-c"));
  f->kube_.AddPod(RunningPod("kube-system", "coredns", "node-a"));
  f->kube_.AddPod(AgentPod("node-a", "127.0.0.2"));
  f->kube_.AddPod(AgentPod("node-b", "127.0.0.3"));

  f->dir_ = kdbg::testing::MakeTempDir("kdbg-controller-test-");
  f->audit_path_ = f->dir_ + "/audit.log";
  KDBG_ASSIGN_OR_RETURN(f->sink_, FileAuditSink::Open(f->audit_path_));
  f->policy_ = options.policy;
  f->work_ = std::make_unique<WorkQueue>(options.workers);
  f->auth_ = std::make_unique<Authorizer>(&f->kube_);
  f->agents_ = std::make_unique<AgentDirectory>(
      &f->kube_,
      AgentDirectory::Options{"kdbg-system", "app.kubernetes.io/name=kdbg-agent", f->agent_port_});
  KDBG_ASSIGN_OR_RETURN(auto client_creds,
                        tls::MakeClientCredentials(
                            {ca, f->controller_cert_.cert_path, f->controller_cert_.key_path}));
  f->channels_ = std::make_unique<AgentChannels>(client_creds, "kdbg-agent");
  f->limiter_ = std::make_unique<SessionLimiter>(&f->policy_);
  f->auditor_ = std::make_unique<Auditor>(f->sink_.get(), &f->kube_, f->work_.get(), &f->clock_);
  ServiceDeps deps{&f->kube_,          f->auth_.get(), f->agents_.get(),
                   f->channels_.get(), &f->policy_,    f->limiter_.get(),
                   f->auditor_.get(),  f->work_.get(), &f->clock_};
  ServiceOptions so;
  so.max_buffered_events = options.max_buffered_events;
  f->service_ = std::make_unique<ControllerService>(deps, so);
  KDBG_ASSIGN_OR_RETURN(auto server_creds,
                        tls::MakeServerCredentialsNoClientCert(
                            {f->controller_cert_.cert_path, f->controller_cert_.key_path, ""}));
  grpc::ServerBuilder b;
  b.AddListeningPort("127.0.0.1:0", server_creds, &f->controller_port_);
  ApplyGrpcLimits(&b);  // as controller/serve.cc
  b.RegisterService(f->service_.get());
  f->server_ = b.BuildAndStart();
  if (f->server_ == nullptr) return absl::UnavailableError("cannot start the controller");
  KDBG_ASSIGN_OR_RETURN(f->channel_,
                        tls::MakeSecureChannel(absl::StrCat("127.0.0.1:", f->controller_port_),
                                               {ca, "", ""}, "localhost"));
  return f;
}

ControllerFixture::~ControllerFixture() {
  if (server_) server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(3));
  server_.reset();
  work_.reset();  // drains audit events
  agent_a_.reset();
  agent_b_.reset();
  if (!audit_path_.empty()) std::remove(audit_path_.c_str());
  if (!dir_.empty()) ::rmdir(dir_.c_str());
}

std::unique_ptr<v1::Controller::Stub> ControllerFixture::NewStub() {
  return v1::Controller::NewStub(channel_);
}

std::unique_ptr<v1::Controller::Stub> ControllerFixture::BareStub(int port,
                                                                  grpc::ChannelArguments args) {
  auto creds = tls::MakeClientCredentials({pki_->ca().cert_path, "", ""});
  if (!creds.ok()) return nullptr;
  args.SetSslTargetNameOverride("localhost");
  return v1::Controller::NewStub(
      grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", port), *creds, args));
}

std::unique_ptr<v1::Controller::Stub> ControllerFixture::NewUncappedStub() {
  grpc::ChannelArguments args;
  args.SetMaxSendMessageSize(-1);
  return BareStub(controller_port_, args);
}

std::unique_ptr<v1::Controller::Stub> ControllerFixture::NewStubAt(int port) {
  return BareStub(port, grpc::ChannelArguments());
}

std::unique_ptr<v1::Agent::Stub> ControllerFixture::DirectAgentStub(const std::string& node) {
  return channels_->Stub(absl::StrCat(node == "node-a" ? "127.0.0.2:" : "127.0.0.3:", agent_port_));
}

std::unique_ptr<grpc::ClientContext> ControllerFixture::Context(const std::string& token) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  if (!token.empty()) ctx->AddMetadata("authorization", "Bearer " + token);
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  return ctx;
}

std::vector<nlohmann::json> ControllerFixture::AuditLines() {
  std::vector<nlohmann::json> out;
  std::ifstream in(audit_path_);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) out.push_back(nlohmann::json::parse(line));
  }
  return out;
}

}  // namespace kdbg::controller::testing
