// Loopback TCP helpers for the agent's integration tests.
//   TunnelBridge: a local listener whose one accepted connection is carried over the agent's Tunnel
//     RPC to a session's Delve (what `kdbg attach` does), so `dlv connect 127.0.0.1:PORT` works.
//   ConnectAndClose: a port check's connection (`nc -z`), closed before its first byte.
#pragma once

#include <memory>
#include <string>
#include <thread>

#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
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
  // Whether the bridged connection and its Tunnel call have both ended within `timeout`.
  bool Ended(absl::Duration timeout) { return ended_.WaitForNotificationWithTimeout(timeout); }

 private:
  void Run();
  kdbg::v1::Agent::Stub* stub_;
  std::string session_id_;
  int listen_fd_ = -1;
  int port_ = 0;
  grpc::ClientContext ctx_;
  grpc::Status status_;
  std::thread thread_;
  absl::Notification ended_;
};

// Connects to 127.0.0.1:`port` and closes the connection at once; false if it could not connect.
bool ConnectAndClose(int port);

}  // namespace kdbg::testing
