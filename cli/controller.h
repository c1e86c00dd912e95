// Reaching the controller: the address from --controller, else $KDBG_CONTROLLER, else a
// `kubectl port-forward` to service kdbg-controller in namespace kdbg-system (started here and
// stopped when the Endpoint is destroyed), over TLS verified against --controller-ca /
// $KDBG_CONTROLLER_CA (else the system roots), with the user's bearer token on every call.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/child_process.h"
#include "common/defaults.h"
#include "grpcpp/grpcpp.h"
#include "kdbg/v1/controller.grpc.pb.h"

namespace kdbg::cli {

// Where the controller is discovered (common/defaults.h: the Service the chart installs). The TLS
// name is checked when the controller is reached through a port-forward (address 127.0.0.1).
inline constexpr const char* kControllerNamespace = defaults::kNamespace;
inline constexpr const char* kControllerService = defaults::kControllerService;
inline constexpr int kControllerServicePort = defaults::kControllerServicePort;
inline constexpr const char* kControllerTlsName = defaults::kControllerTlsName;

struct EndpointOptions {
  std::string address;                    // --controller, else $KDBG_CONTROLLER; empty: discover
  std::string kubectl = "kubectl";        // $KDBG_KUBECTL overrides (tests)
  std::vector<std::string> kubectl_args;  // --kubeconfig/--context for kubectl
  absl::Duration port_forward_timeout = absl::Seconds(20);
  // Polled while waiting for the port-forward (every ~20 ms): true abandons the wait (Cancelled,
  // the port-forward stopped), e.g. once the pod read running beside it has failed, so that
  // the user hears about their pod at once rather than after the port-forward's timeout.
  std::function<bool()> give_up;
};

// A reachable controller address; owns the port-forward process if one was needed.
struct Endpoint {
  std::string address;   // "host:port"
  std::string tls_name;  // server name override, empty: the host of `address`
  std::unique_ptr<ChildProcess> port_forward;
  std::string Describe() const;
};

// Parses "Forwarding from 127.0.0.1:41234 -> 7443" (kubectl port-forward's stdout) -> 41234;
// 0 for any other line.
int ParsePortForwardLine(const std::string& line);

// Errors: Unavailable when the port-forward fails or times out (kubectl's output quoted).
absl::StatusOr<Endpoint> FindController(const EndpointOptions& options);

// A TLS channel to the endpoint. Errors: NotFound/InvalidArgument for a bad CA file.
absl::StatusOr<std::shared_ptr<grpc::Channel>> DialController(const Endpoint& endpoint,
                                                              const std::string& ca_path);

// Drives `channel`'s connection (TCP connect, TLS handshake) until the channel is READY, fails
// (TRANSIENT_FAILURE, SHUTDOWN), `keep_going` returns false, or `limit` passes; returns the last
// state seen. Why: gRPC's synchronous API (Debian's 1.51, epoll1 poller) watches a channel's socket
// only while a thread waits inside gRPC, so GetState(true) alone starts the TCP connect and nothing
// more: the TLS handshake then begins with the first RPC (seen with strace: ClientHello sent
// 14 ms after the connect, just after the pod read it was meant to overlap). Waiting here, in
// slices of at most 2 ms, lets the handshake run while another thread does other work.
grpc_connectivity_state ConnectAhead(grpc::Channel& channel, absl::Duration limit,
                                     const std::function<bool()>& keep_going);

// Adds "authorization: Bearer <token>" and, when positive, a deadline.
void PrepareContext(grpc::ClientContext* context, const std::string& token,
                    absl::Duration timeout = absl::ZeroDuration());

// One line for a failed call: what failed, and what to do. `session_id`: the session the call's
// stream had started (a transport failure then means the controller was lost mid-session, not
// that it cannot be reached).
std::string DescribeRpcError(const grpc::Status& status, const std::string& what,
                             const std::string& controller, const std::string& session_id = "");

}  // namespace kdbg::cli
