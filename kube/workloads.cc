#include "kube/workloads.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "nlohmann/json.hpp"

namespace kdbg::kube {
namespace {

struct KindInfo {
  WorkloadKind kind;
  const char* name;      // singular, as kubectl prints it
  const char* api_kind;  // the object's "kind"
  const char* group_version;
  const char* resource;
  const char* aliases[3];
};

constexpr KindInfo kKinds[] = {
    {WorkloadKind::kDeployment,
     "deployment",
     "Deployment",
     "apps/v1",
     "deployments",
     {"deploy", "deployment", "deployments"}},
    {WorkloadKind::kStatefulSet,
     "statefulset",
     "StatefulSet",
     "apps/v1",
     "statefulsets",
     {"sts", "statefulset", "statefulsets"}},
    {WorkloadKind::kDaemonSet,
     "daemonset",
     "DaemonSet",
     "apps/v1",
     "daemonsets",
     {"ds", "daemonset", "daemonsets"}},
    {WorkloadKind::kReplicaSet,
     "replicaset",
     "ReplicaSet",
     "apps/v1",
     "replicasets",
     {"rs", "replicaset", "replicasets"}},
    {WorkloadKind::kJob, "job", "Job", "batch/v1", "jobs", {"job", "jobs", "job"}},
};

const KindInfo& Info(WorkloadKind kind) {
  for (const KindInfo& k : kKinds) {
    if (k.kind == kind) return k;
  }
  return kKinds[0];
}

}  // namespace

std::optional<WorkloadKind> ParseWorkloadKind(absl::string_view word) {
  std::string w = absl::AsciiStrToLower(word);
  for (const KindInfo& k : kKinds) {
    for (const char* alias : k.aliases) {
      if (w == alias) return k.kind;
    }
  }
  return std::nullopt;
}

std::string WorkloadKindName(WorkloadKind kind) { return Info(kind).name; }

std::string WorkloadPath(WorkloadKind kind, absl::string_view ns, absl::string_view name) {
  const KindInfo& k = Info(kind);
  return absl::StrCat("/apis/", k.group_version, "/namespaces/", ns, "/", k.resource, "/", name);
}

absl::StatusOr<Workload> ParseWorkload(WorkloadKind kind, absl::string_view json) {
  using Json = nlohmann::json;
  const KindInfo& k = Info(kind);
  Json j = Json::parse(json.begin(), json.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat("the API's ", k.api_kind, " is not JSON"));
  }
  if (j.contains("kind") && j["kind"].is_string() && j["kind"] != k.api_kind) {
    return absl::InvalidArgumentError(absl::StrCat(
        "expected a ", k.api_kind, ", the API returned a ", j["kind"].get<std::string>()));
  }
  Workload w;
  w.kind = kind;
  if (j.contains("metadata") && j["metadata"].is_object()) {
    const Json& m = j["metadata"];
    if (m.contains("name") && m["name"].is_string()) w.name = m["name"].get<std::string>();
    if (m.contains("namespace") && m["namespace"].is_string()) {
      w.namespace_ = m["namespace"].get<std::string>();
    }
  }
  const std::string ref = absl::StrCat(k.name, "/", w.name);
  if (!j.contains("spec") || !j["spec"].is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(ref, " has no spec"));
  }
  const Json& spec = j["spec"];
  if (spec.contains("replicas") && spec["replicas"].is_number_integer()) {
    w.replicas = spec["replicas"].get<int>();
  }
  if (!spec.contains("selector") || spec["selector"].is_null()) {
    return absl::InvalidArgumentError(absl::StrCat(ref, " has no spec.selector"));
  }
  auto sel = LabelSelector::FromJson(spec["selector"].dump());
  if (!sel.ok()) return Annotate(sel.status(), absl::StrCat(ref, " spec.selector"));
  if (sel->Empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(ref,
                     " has an empty spec.selector, which would select every pod of the "
                     "namespace; name the pods with -l instead"));
  }
  w.selector = std::move(*sel);
  return w;
}

}  // namespace kdbg::kube
