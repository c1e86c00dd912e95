// The defaults that several binaries and the shipped deployment must agree on, in one place.
//
// The CLI, the controller and the agent take these as their built-in defaults; the Helm chart
// (charts/kdbg) and the plain manifests rendered from it (deploy/manifests) ship the same values.
// tests/unit/defaults checks that the manifests, the chart rendered with its default values
// (tests/deploy/deploy-test.sh defaults) and the binaries' default flags agree: a Service port the
// CLI does not port-forward to, a controller listening on a port its container does not expose, or
// a lease cap that differs between the policy file and the controller's built-in policy fails it.
//
// Change a value here and in charts/kdbg together (then `tests/deploy/deploy-test.sh regenerate`).
#pragma once

#include "absl/time/time.h"

namespace kdbg::defaults {

// The namespace kdbg is installed in: where the CLI looks for the controller's Service, where the
// controller looks for agent pods, and which the policy always protects.
inline constexpr char kNamespace[] = "kdbg-system";

// The controller's Service (what the CLI port-forwards to) and its port.
inline constexpr char kControllerService[] = "kdbg-controller";
inline constexpr int kControllerServicePort = 443;
// The name the controller's certificate carries for in-cluster clients.
inline constexpr char kControllerTlsName[] = "kdbg-controller.kdbg-system.svc";
// The port the controller listens on (its container port "grpc", the Service's targetPort).
inline constexpr int kControllerPort = 7443;

// Agent pods: how the controller finds them and the ports they serve.
inline constexpr char kAgentSelector[] = "app.kubernetes.io/name=kdbg-agent";
inline constexpr int kAgentPort = 7443;  // gRPC over mutual TLS (container port "grpc")
inline constexpr int kAgentHealthPort =
    7444;  // /healthz, /readyz, /metrics (container port "health")
// The common name of the controller's client certificate, the only client the agent admits.
inline constexpr char kControllerClientName[] = "kdbg-controller";

// Leases. A session that asks for none gets kDefaultLease; the controller's policy caps requests at
// kMaxLease (policy keys defaultLease / maxLease). The agent caps again at kAgentMaxLease, a
// backstop for a controller with a looser policy file; it is never below the policy's cap.
inline constexpr absl::Duration kDefaultLease = absl::Minutes(10);
inline constexpr absl::Duration kMaxLease = absl::Minutes(30);
inline constexpr absl::Duration kAgentMaxLease = absl::Hours(1);
static_assert(kDefaultLease <= kMaxLease && kMaxLease <= kAgentMaxLease);

// Sessions over several pods (`kdbg trace deploy/NAME`, `-l`): at most this many pods per session
// unless the policy says otherwise (policy key maxPodsPerSession; `--max-pods N` chooses fewer).
inline constexpr int kMaxPodsPerSession = 10;

}  // namespace kdbg::defaults
