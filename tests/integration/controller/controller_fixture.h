// A whole controller over real gRPC + TLS for tests and the benchmark: a throwaway PKI, the
// in-memory Kubernetes API (users alice: may debug in `default`; bob: no kdbg rights), fake agents
// for node-a (127.0.0.2) and node-b (127.0.0.3) on one port, and the real ControllerService on
// 127.0.0.1:<free>. Everything stops when the object is destroyed.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/testing/fake_clock.h"
#include "controller/service.h"
#include "grpcpp/server.h"
#include "grpcpp/support/channel_arguments.h"
#include "kdbg/v1/controller.grpc.pb.h"
#include "kube/testing/fake_client.h"
#include "nlohmann/json.hpp"
#include "tests/integration/controller/fake_agent.h"
#include "tests/support/certs/test_certs.h"

namespace kdbg::controller::testing {

struct ControllerFixtureOptions {
  int workers = 4;
  size_t max_buffered_events = 64;
  Policy policy = DefaultPolicy("kdbg-system");
};

class ControllerFixture {
 public:
  static absl::StatusOr<std::unique_ptr<ControllerFixture>> Start(
      const ControllerFixtureOptions& options = {});
  ~ControllerFixture();

  kube::testing::FakeClient& kube() { return kube_; }
  FakeAgent& agent_a() { return *agent_a_; }
  FakeAgent& agent_b() { return *agent_b_; }
  ControllerService& service() { return *service_; }
  int agent_port() const { return agent_port_; }
  std::shared_ptr<grpc::ServerCredentials> agent_server_creds() const { return agent_creds_; }

  // A stub for the controller over TLS (verifying its certificate).
  std::unique_ptr<v1::Controller::Stub> NewStub();
  // The same over a channel without kdbg's message caps (common/grpc_limits.h): a hostile client
  // that sends messages of any size.
  std::unique_ptr<v1::Controller::Stub> NewUncappedStub();
  // A stub to 127.0.0.1:`port` (a TcpProxy in front of controller_port()) over a channel without
  // keepalive of its own: a client that would never notice a cut.
  std::unique_ptr<v1::Controller::Stub> NewStubAt(int port);
  int controller_port() const { return controller_port_; }
  // A stub straight to the agent of `node` (mutual TLS with the controller's certificate), for
  // baselines that bypass the controller.
  std::unique_ptr<v1::Agent::Stub> DirectAgentStub(const std::string& node);
  // A fresh context carrying "authorization: Bearer <token>" (none when token is empty).
  static std::unique_ptr<grpc::ClientContext> Context(const std::string& token);
  // Audit lines so far, parsed.
  std::vector<nlohmann::json> AuditLines();

 private:
  ControllerFixture() = default;
  // A stub to 127.0.0.1:`port` verifying the controller's certificate, on a channel with `args`
  // only (none of ApplyGrpcLimits': no caps, no keepalive).
  std::unique_ptr<v1::Controller::Stub> BareStub(int port, grpc::ChannelArguments args);

  std::unique_ptr<kdbg::testing::TestPki> pki_;
  kdbg::testing::CertFiles controller_cert_;
  std::shared_ptr<grpc::ServerCredentials> agent_creds_;
  std::string audit_path_;
  std::string dir_;
  int agent_port_ = 0;
  int controller_port_ = 0;
  kube::testing::FakeClient kube_;
  kdbg::testing::FakeClock clock_;
  std::unique_ptr<FakeAgent> agent_a_, agent_b_;
  Policy policy_;
  std::unique_ptr<WorkQueue> work_;
  std::unique_ptr<Authorizer> auth_;
  std::unique_ptr<AgentDirectory> agents_;
  std::unique_ptr<AgentChannels> channels_;
  std::unique_ptr<SessionLimiter> limiter_;
  std::unique_ptr<FileAuditSink> sink_;
  std::unique_ptr<Auditor> auditor_;
  std::unique_ptr<ControllerService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
};

}  // namespace kdbg::controller::testing
