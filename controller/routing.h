// Routing: which container of the (re-read) pod, and which agent serves the pod's node.
//
// Agents are the pods matching `label_selector` in kdbg's namespace; each runs on one node
// (spec.nodeName) and is dialed at its podIP (for hostNetwork agents that is the node's IP) on the
// configured port. The directory keeps them current with list + watch (re-list on 410 Gone) and,
// on a cache miss, asks the API server directly with the field selector spec.nodeName=<node>, so a
// just-started agent is found even before its watch event arrives.
#pragma once

#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "common/defaults.h"
#include "kdbg/v1/types.pb.h"
#include "kube/client.h"

namespace kdbg::controller {

// Ready: phase Running, not being deleted, condition Ready=True.
bool PodIsReady(const kube::Pod& pod);

// The TargetRef for `container` of `pod`, chosen by kube::SelectContainer (kube/containers.h: the
// same rule the CLI applies; its errors, FailedPrecondition and NotFound, are returned as they
// are).
absl::StatusOr<v1::TargetRef> TargetFor(const kube::Pod& pod, absl::string_view container);

struct AgentEndpoint {
  std::string pod_name;  // "kdbg-agent-x7k2p"
  std::string node_name;
  std::string address;  // "10.0.3.17:7443"
  bool ready = true;    // the pod's Ready condition
};

class AgentDirectory {
 public:
  struct Options {
    std::string ns = defaults::kNamespace;
    std::string label_selector = defaults::kAgentSelector;
    int port = defaults::kAgentPort;
  };
  // `kube` must outlive the directory.
  AgentDirectory(kube::Client* kube, Options options);
  ~AgentDirectory();  // stops the watch

  // Lists agents once, then keeps watching on a thread of its own. The list failing is not fatal
  // (the watch thread retries); the status is returned for logging.
  absl::Status Start();
  void Stop();

  // The ready agent on `node`. `target` is the pod to debug (for the error about non-Linux nodes).
  //   FailedPrecondition  no agent pod on the node (names the node; says when it is not Linux)
  //   Unavailable         the agent pod is not ready, or the API server could not be asked
  absl::StatusOr<AgentEndpoint> ForNode(const std::string& node, const kube::Pod* target);
  // Every ready agent known (from the cache; lists once when the cache is empty).
  std::vector<AgentEndpoint> ReadyAgents();
  // Every agent pod known, ready or not (`ready` says which).
  std::vector<AgentEndpoint> AllAgents();

 private:
  absl::Status Relist();
  void WatchLoop();
  AgentEndpoint EndpointOf(const kube::Pod& pod) const;

  kube::Client* kube_;
  Options options_;
  absl::Mutex mu_;
  std::map<std::string, kube::Pod> agents_ ABSL_GUARDED_BY(mu_);  // by pod name
  std::string resource_version_ ABSL_GUARDED_BY(mu_);
  bool listed_ ABSL_GUARDED_BY(mu_) = false;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread watcher_;
};

}  // namespace kdbg::controller
