// How long a container's process may stay stopped (at a breakpoint, or halted by a debugger)
// before its liveness probe makes the kubelet restart it, and how much of that kdbg allows.
//
// The kubelet runs the liveness probe every periodSeconds; a probe the process does not answer
// fails after timeoutSeconds; failureThreshold failures in a row restart the container. A stopped
// Go process answers no httpGet or grpc probe (a tcpSocket probe may still be accepted by the
// kernel's backlog, an exec probe may not talk to the process: kdbg counts them all the same, to be
// safe). In the worst case a probe starts just as the stop begins, so the first failure comes
// timeoutSeconds into the stop and the restart at
//     budget = (failureThreshold - 1) * periodSeconds + timeoutSeconds.
// kdbg lets a stop last `share_percent` of that (the controller's policy,
// livenessStopSharePercent, default 50), so a probe succeeds between stops and the count restarts.
//
// Pure functions over a parsed container (kube/objects.h); tested on the real pods in
// kube/testdata/pods.
#pragma once

#include <string>

#include "absl/time/time.h"
#include "kube/objects.h"

namespace kdbg::kube {

inline constexpr int kDefaultStopSharePercent = 50;

struct StopBudget {
  bool has_liveness_probe = false;
  std::string probe = {};  // "httpGet :8080/healthz every 2s, timeout 1s, failure threshold 3"
  absl::Duration budget = absl::ZeroDuration();    // zero without a probe
  absl::Duration max_stop = absl::ZeroDuration();  // budget * share; zero: no limit
  int share_percent = kDefaultStopSharePercent;
  std::string summary = {};  // one sentence (StopBudget.summary in proto/kdbg/v1/types.proto)
};

// The budget of `container` (no probe: no limit). `share_percent` is clamped to 1..100.
StopBudget StopBudgetOf(const ContainerSpec& container, int share_percent);
// The same for the container of `pod` named `container` (an app container or an init container,
// e.g. a native sidecar); no such container: no probe.
StopBudget StopBudgetOf(const Pod& pod, const std::string& container, int share_percent);

}  // namespace kdbg::kube
