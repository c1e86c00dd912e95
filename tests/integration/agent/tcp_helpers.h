// Loopback TCP helpers for the agent's integration tests.
//   TunnelBridge: a local listener whose one accepted connection is carried over the agent's Tunnel
//     RPC to a session's Delve (what `kdbg attach` does), so `dlv connect 127.0.0.1:PORT` works.
#pragma once

#include <memory>
#include <string>
#include <thread>

#include "kdbg/v1/agent.grpc.pb.h"
#include "tests/support/test_env.h"  // ListenLoopback

namespace kdbg::testing {

class TunnelBridge {
 public:
  TunnelBridge(kdbg::v1::Agent::Stub* stub, std::string session_id);
  ~TunnelBridge();
  int port() const { return port_; }
  // The Tunnel call's final status, once the bridged connection has ended.
  grpc::Status status() const { return status_; }

 private:
  void Run();
  kdbg::v1::Agent::Stub* stub_;
  std::string session_id_;
  int listen_fd_ = -1;
  int port_ = 0;
  grpc::ClientContext ctx_;
  grpc::Status status_;
  std::thread thread_;
};

}  // namespace kdbg::testing
