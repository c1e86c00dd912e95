// TARGET parsing, as kubectl users expect it, and the pods a workload or selector names.
// (Which container: kube::SelectContainer.)
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "cli/cluster.h"
#include "kube/objects.h"
#include "kube/selector.h"
#include "kube/workloads.h"

namespace kdbg::cli {

// "pod/NAME", "pods/NAME", "po/NAME" or "NAME" -> NAME. InvalidArgument for other kinds
// ("deployment/x") or names that are not DNS-1123 subdomains.
absl::StatusOr<std::string> ParseTarget(const std::string& target);

// What the user named: one pod, a workload (deploy/NAME, statefulset/, daemonset/, replicaset/,
// job/; kube/workloads.h) or a label selector (-l).
struct TargetSpec {
  enum class Kind { kPod, kWorkload, kSelector };
  Kind kind = Kind::kPod;
  std::string name;  // the pod's or the workload's
  kube::WorkloadKind workload = kube::WorkloadKind::kDeployment;
  kube::LabelSelector selector;  // kSelector
  // "pod/web-0", "deployment/web", "-l app=web" (the selector in canonical form).
  std::string Describe() const;
};

// TARGET and -l: exactly one of them. InvalidArgument naming what is wrong (both, neither, an
// unknown kind with the kinds kdbg knows, a bad name, the selector's parse error).
absl::StatusOr<TargetSpec> ParseTargetSpec(const std::string& target, const std::string& selector);

// The pods of a workload or selector that can be traced, read with the user's credentials: the
// workload's spec.selector (or the -l selector) listed in `ns`, keeping Running pods not being
// deleted, sorted by name. `skipped` gets the others ("web-2 (Pending)"). NotFound/
// PermissionDenied from the API server with its message; FailedPrecondition when no pod is
// Running, naming what was found.
struct PodSet {
  std::string selection;  // TargetSpec::Describe()
  std::vector<kube::Pod> pods;
  std::vector<std::string> skipped;
};
absl::StatusOr<PodSet> ListTargetPods(Cluster& cluster, const std::string& ns,
                                      const TargetSpec& spec);

// At most `max` pods (0: all), spread over nodes: one pod of each node in turn (nodes and pods by
// name), so that a few replicas still cover every node. Order of the result: by name.
std::vector<kube::Pod> ChoosePods(const std::vector<kube::Pod>& pods, int max);

}  // namespace kdbg::cli
