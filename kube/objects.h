// The parts of Kubernetes objects kdbg reads, parsed from the API's JSON (real shapes: see
// kube/testdata/pods, lists, watch, status, authn, authz).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace kdbg::kube {

// A container's probe (spec.containers[].livenessProbe), with the API's defaults for fields the
// object leaves out: {"httpGet":{"path":"/healthz","port":9999,"scheme":"HTTP"},
// "initialDelaySeconds":10,"timeoutSeconds":1,"periodSeconds":60,"successThreshold":1,
// "failureThreshold":3}.
struct Probe {
  // "httpGet :9999/healthz", "httpGet :http/info", "tcpSocket :8080", "grpc :9090",
  // "exec /bin/bash -c /opt/livenessprobe.sh" (the command's words, cut at 60 characters).
  std::string handler = {};
  int period_seconds = 10;
  int timeout_seconds = 1;
  int failure_threshold = 3;
};

struct ContainerSpec {
  std::string name = {};
  std::string image = {};
  // spec.initContainers[].restartPolicy: "Always" marks a native sidecar (Kubernetes 1.28+), which
  // runs for the pod's lifetime; empty for classic init containers and for app containers.
  std::string restart_policy = {};
  std::optional<Probe> liveness_probe = std::nullopt;
};

// containerStatuses[] / initContainerStatuses[] entry.
struct ContainerStatus {
  std::string name = {};
  std::string container_id = {};  // "containerd://<hex>", empty while waiting
  std::string state = {};  // "running", "waiting", "terminated" (the key present under .state)
  std::string state_reason = {};  // waiting/terminated reason, e.g. "CrashLoopBackOff"
  bool ready = false;
  int restart_count = 0;
};

struct Pod {
  std::string namespace_ = {};
  std::string name = {};
  std::string uid = {};
  std::string resource_version = {};
  std::map<std::string, std::string> labels = {};
  std::map<std::string, std::string> annotations = {};
  std::string node_name = {};  // spec.nodeName
  std::string phase = {};      // status.phase
  std::string pod_ip = {};
  std::string host_ip = {};
  bool deleting = false;  // metadata.deletionTimestamp set
  std::vector<ContainerSpec> containers = {};
  std::vector<ContainerSpec> init_containers = {};
  std::vector<ContainerStatus> container_statuses = {};
  std::vector<ContainerStatus> init_container_statuses = {};
  std::vector<std::pair<std::string, std::string>> conditions =
      {};  // type -> status ("Ready","True")
  std::map<std::string, std::string> node_selector = {};

  // The status of a container or init container by name; nullptr when the kubelet has reported
  // none. (Which container `-c` means is kube::SelectContainer, kube/containers.h.)
  const ContainerStatus* StatusOf(absl::string_view container) const;
  bool Ready() const;
};

// Parses one Pod object (apiVersion/kind may be absent, as in kubelet lists).
absl::StatusOr<Pod> ParsePod(absl::string_view json);
// Parses a PodList or List of pods; `resource_version` gets metadata.resourceVersion.
absl::StatusOr<std::vector<Pod>> ParsePodList(absl::string_view json,
                                              std::string* resource_version = nullptr);

struct WatchEvent {
  std::string type = {};  // ADDED, MODIFIED, DELETED, BOOKMARK, ERROR
  Pod pod;
  std::string error_message = {};  // for ERROR (a Status object)
  int error_code = 0;
};
absl::StatusOr<WatchEvent> ParseWatchEvent(absl::string_view json_line);

// Who the API server says a token belongs to (TokenReview status.user).
struct UserInfo {
  bool authenticated = false;
  std::string username = {};
  std::string uid = {};
  std::vector<std::string> groups = {};
  std::map<std::string, std::vector<std::string>> extra = {};
  std::string error = {};  // status.error
};

struct ResourceAttributes {
  std::string namespace_ = {};
  std::string verb = {};      // "create", "list", "delete"
  std::string group = {};     // "kdbg.io"
  std::string resource = {};  // "debugsessions"
  std::string name = {};
  std::string subresource = {};
};

struct AccessDecision {
  bool allowed = false;
  bool denied = false;
  std::string reason = {};
  std::string evaluation_error = {};
};

// The status of a TokenReview response ({"kind":"TokenReview","status":{"authenticated":true,
// "user":{"username":"...","uid":"...","groups":[...],"extra":{...}},"error":"..."}}; see
// kube/testdata/authn). InvalidArgument when not JSON, Internal "unexpected TokenReview response"
// when a field has another type than the API's.
absl::StatusOr<UserInfo> ParseTokenReview(absl::string_view json);
// The status of a SubjectAccessReview response ({"status":{"allowed":false,"denied":true,
// "reason":"...","evaluationError":"..."}}; see kube/testdata/authz). Errors as ParseTokenReview.
absl::StatusOr<AccessDecision> ParseSubjectAccessReview(absl::string_view json);

// A core/v1 Event about an object (what `kubectl describe pod` shows).
struct EventSpec {
  std::string namespace_ = {};
  std::string involved_kind = "Pod";
  std::string involved_name = {};
  std::string involved_uid = {};
  std::string type = "Normal";  // or "Warning"
  std::string reason = {};      // "DebugSessionStarted", "DebugSessionEnded"
  std::string message = {};
  std::string component = "kdbg-controller";
};

}  // namespace kdbg::kube
