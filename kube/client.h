// Kubernetes API client interface, shared by the controller (in-cluster credentials) and the CLI
// (kubeconfig credentials). Real implementation over HTTPS in kube/http_client.*; an in-memory fake
// for tests in kube/testing/fake_client.h.
//
// Errors map the API's Status responses to absl codes:
//   401 -> Unauthenticated, 403 -> PermissionDenied (message: the API server's), 404 -> NotFound,
//   409 -> AlreadyExists/Aborted, 410 -> OutOfRange (watch resourceVersion too old),
//   429 -> ResourceExhausted, 5xx and connection failures -> Unavailable, timeouts ->
//   DeadlineExceeded.
// Thread-safe.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "kube/objects.h"
#include "kube/workloads.h"

namespace kdbg::kube {

struct ListOptions {
  std::string label_selector = {};  // "app=kdbg-agent"
  std::string field_selector = {};  // "spec.nodeName=node-a"
  // WatchPods only: the server ends the watch after this long (timeoutSeconds); 0: its default.
  int timeout_seconds = 0;
};

class Client {
 public:
  virtual ~Client() = default;

  virtual absl::StatusOr<Pod> GetPod(const std::string& ns, const std::string& name) = 0;
  // `ns` empty: all namespaces.
  virtual absl::StatusOr<std::vector<Pod>> ListPods(const std::string& ns, const ListOptions& opts,
                                                    std::string* resource_version = nullptr) = 0;
  // Streams watch events from `resource_version` until `on_event` returns false, the server ends
  // the stream, or an error. OutOfRange when the version is too old (410): re-list and retry.
  virtual absl::Status WatchPods(const std::string& ns, const ListOptions& opts,
                                 const std::string& resource_version,
                                 const std::function<bool(const WatchEvent&)>& on_event) = 0;

  // GET the workload's object (kube/workloads.h: WorkloadPath) and read its pod selector; the API
  // server's 403/404 come back as PermissionDenied/NotFound with its message
  // (`deployments.apps "web" not found`).
  virtual absl::StatusOr<Workload> GetWorkload(WorkloadKind kind, const std::string& ns,
                                               const std::string& name) = 0;

  // POST /apis/authentication.k8s.io/v1/tokenreviews
  virtual absl::StatusOr<UserInfo> ReviewToken(const std::string& token) = 0;
  // POST /apis/authorization.k8s.io/v1/subjectaccessreviews
  virtual absl::StatusOr<AccessDecision> ReviewAccess(const UserInfo& user,
                                                      const ResourceAttributes& attrs) = 0;
  // POST /api/v1/namespaces/{ns}/events
  virtual absl::Status CreateEvent(const EventSpec& event) = 0;

  // GET /api/v1/namespaces: the names, sorted (the CLI's shell completion). Unimplemented unless a
  // client overrides it (the HTTP client does).
  virtual absl::StatusOr<std::vector<std::string>> ListNamespaces() {
    return absl::UnimplementedError("this client cannot list namespaces");
  }
};

}  // namespace kdbg::kube
