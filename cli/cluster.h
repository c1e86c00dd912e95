// What the CLI needs from the user's Kubernetes configuration: the context's namespace, the pod
// (read with the user's own credentials), the bearer token the controller authenticates, and the
// kubectl flags that select the same kubeconfig and context (for `kubectl port-forward`).
//
// The real implementation (cli/kube_cluster.cc) reads the kubeconfig as kubectl does through the
// kube library; tests inject their own.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "kube/client.h"
#include "kube/objects.h"
#include "kube/workloads.h"

namespace kdbg::cli {

class Cluster {
 public:
  virtual ~Cluster() = default;
  // The current context's namespace, "default" when it names none.
  virtual std::string Namespace() const = 0;
  // GET /api/v1/namespaces/{ns}/pods/{name} with the user's credentials; the API server's errors
  // (Forbidden, NotFound) come back with its message.
  virtual absl::StatusOr<kube::Pod> GetPod(const std::string& ns, const std::string& name) = 0;
  // GET the workload (kube/workloads.h) with the user's credentials; the API server's errors as
  // GetPod's.
  virtual absl::StatusOr<kube::Workload> GetWorkload(kube::WorkloadKind kind, const std::string& ns,
                                                     const std::string& name) = 0;
  // GET /api/v1/namespaces/{ns}/pods?labelSelector=... with the user's credentials.
  virtual absl::StatusOr<std::vector<kube::Pod>> ListPods(const std::string& ns,
                                                          const std::string& label_selector) = 0;
  // The user's bearer token (static token, tokenFile, or an exec plugin's, refreshed when it
  // expires). FailedPrecondition for users authenticated by client certificates only.
  virtual absl::StatusOr<std::string> BearerToken() = 0;
  // "--kubeconfig", FILE, "--context", NAME: as many as were given to kdbg.
  virtual std::vector<std::string> KubectlArgs() const = 0;
  // The API client with the user's credentials, for read-only listing (shell completion:
  // cli/completion.h); null when there is none (test doubles).
  virtual kube::Client* Api() { return nullptr; }
};

struct ClusterOptions {
  std::string kubeconfig;      // --kubeconfig
  std::string kubeconfig_env;  // $KUBECONFIG (colon-separated files, merged)
  std::string home;            // $HOME, for ~/.kube/config
  std::string context;         // --context
};

// Reads the kubeconfig. Errors: NotFound (no kubeconfig), InvalidArgument (malformed, unknown
// context), each saying which file and what to do.
absl::StatusOr<std::unique_ptr<Cluster>> OpenCluster(const ClusterOptions& options);

}  // namespace kdbg::cli
