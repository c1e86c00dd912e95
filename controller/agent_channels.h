// One gRPC channel per agent address, shared by every session to that agent.
//
// Agents are dialed at IP:port; their certificates rarely carry the pod IP, so the name checked
// against the agent's certificate is `server_name` (e.g. "kdbg-agent.kdbg.svc") when set, else the
// address's host. Thread-safe.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "absl/synchronization/mutex.h"
#include "grpcpp/channel.h"
#include "grpcpp/security/credentials.h"
#include "kdbg/v1/agent.grpc.pb.h"

namespace kdbg::controller {

class AgentChannels {
 public:
  AgentChannels(std::shared_ptr<grpc::ChannelCredentials> creds, std::string server_name)
      : creds_(std::move(creds)), server_name_(std::move(server_name)) {}

  std::shared_ptr<grpc::Channel> Channel(const std::string& address);
  std::unique_ptr<v1::Agent::Stub> Stub(const std::string& address) {
    return v1::Agent::NewStub(Channel(address));
  }

 private:
  std::shared_ptr<grpc::ChannelCredentials> creds_;
  std::string server_name_;
  absl::Mutex mu_;
  std::map<std::string, std::shared_ptr<grpc::Channel>> channels_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kdbg::controller
