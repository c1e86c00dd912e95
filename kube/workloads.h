// Workloads kdbg traces as a whole (`kdbg trace deploy/NAME`): which kinds, how kubectl names
// them, where the API serves them, and the pod selector read from their spec.
//
//   kind         kubectl names (case-insensitive)                 API path
//   Deployment   deploy, deployment, deployments /apis/apps/v1/namespaces/NS/deployments/NAME
//   StatefulSet  sts, statefulset, statefulsets /apis/apps/v1/namespaces/NS/statefulsets/NAME
//   DaemonSet    ds, daemonset, daemonsets /apis/apps/v1/namespaces/NS/daemonsets/NAME ReplicaSet
//   rs, replicaset, replicasets                      /apis/apps/v1/namespaces/NS/replicasets/NAME
//   Job          job, jobs /apis/batch/v1/namespaces/NS/jobs/NAME
//
// The object's pods are the pods of its namespace matching spec.selector (matchLabels and
// matchExpressions; kube/selector.h), as `kubectl logs deploy/NAME` finds them:
//   {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", ...},
//    "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}}, "template": {...}},
//    "status": {"replicas": 3, "readyReplicas": 3, ...}}
// (real shapes: kube/testdata/workloads/).
#pragma once

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "kube/selector.h"

namespace kdbg::kube {

enum class WorkloadKind { kDeployment, kStatefulSet, kDaemonSet, kReplicaSet, kJob };

// "deploy", "Deployments", "sts", ... -> the kind; nullopt for any other word (pods included).
std::optional<WorkloadKind> ParseWorkloadKind(absl::string_view word);
// "deployment", "statefulset", ...: the singular lower-case name kubectl prints (deployment/web).
std::string WorkloadKindName(WorkloadKind kind);
// The object's API path (names are not checked here: callers validate them first).
std::string WorkloadPath(WorkloadKind kind, absl::string_view ns, absl::string_view name);

struct Workload {
  WorkloadKind kind = WorkloadKind::kDeployment;
  std::string namespace_;
  std::string name;
  LabelSelector selector;  // spec.selector
  int replicas = -1;       // spec.replicas; -1 when absent (DaemonSets, Jobs use parallelism)
};

// Parses the object the API returned for `kind`. InvalidArgument when it is not JSON, is another
// kind, or has no usable spec.selector (an empty selector would select every pod: refused, naming
// the object).
absl::StatusOr<Workload> ParseWorkload(WorkloadKind kind, absl::string_view json);

}  // namespace kdbg::kube
