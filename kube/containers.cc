#include "kube/containers.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace kdbg::kube {
namespace {

constexpr char kDefaultContainerAnnotation[] = "kubectl.kubernetes.io/default-container";

bool IsNativeSidecar(const ContainerSpec& c) { return c.restart_policy == "Always"; }

// "app, sidecar, istio-proxy (sidecar), setup (init)": what the user may pass to -c.
std::string ContainerNames(const Pod& pod) {
  std::vector<std::string> names;
  for (const ContainerSpec& c : pod.containers) names.push_back(c.name);
  for (const ContainerSpec& c : pod.init_containers) {
    names.push_back(absl::StrCat(c.name, IsNativeSidecar(c) ? " (sidecar)" : " (init)"));
  }
  return absl::StrJoin(names, ", ");
}

}  // namespace

absl::StatusOr<SelectedContainer> SelectContainer(const Pod& pod, absl::string_view requested) {
  const std::string pod_ref = absl::StrCat(pod.namespace_, "/", pod.name);
  const std::string watch_hint =
      absl::StrCat("`kubectl get pod ", pod.name, " -n ", pod.namespace_, " -w`");
  if (pod.containers.empty()) {
    return absl::FailedPreconditionError(absl::StrCat("pod ", pod_ref, " has no containers"));
  }
  if (pod.deleting) {
    return absl::FailedPreconditionError(
        absl::StrCat("pod ", pod_ref, " is being deleted; debug another replica"));
  }
  if (pod.phase == "Succeeded" || pod.phase == "Failed") {
    return absl::FailedPreconditionError(absl::StrCat("pod ", pod_ref, " has finished (phase ",
                                                      pod.phase, "); nothing runs in it to debug"));
  }

  SelectedContainer out;
  out.name = std::string(requested);
  if (out.name.empty()) {
    auto it = pod.annotations.find(kDefaultContainerAnnotation);
    if (it != pod.annotations.end()) out.name = it->second;
  }
  if (out.name.empty()) out.name = pod.containers.front().name;
  bool known = false;
  for (const ContainerSpec& c : pod.containers) known = known || c.name == out.name;
  for (const ContainerSpec& c : pod.init_containers) {
    if (known || c.name != out.name) continue;
    known = true;
    out.kind = IsNativeSidecar(c) ? ContainerKind::kNativeSidecar : ContainerKind::kInit;
  }
  if (!known) {
    return absl::NotFoundError(absl::StrCat("container \"", out.name, "\" not found in pod ",
                                            pod_ref, "; its containers are: ", ContainerNames(pod),
                                            " (choose one with -c NAME)"));
  }

  if (pod.node_name.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("pod ", pod_ref, " is not scheduled on a node yet (phase ", pod.phase,
                     "); wait for it (", watch_hint, ")"));
  }
  const std::string pending =
      pod.phase == "Pending" ? absl::StrCat("pod ", pod_ref, " is Pending: ") : std::string();
  const ContainerStatus* status = pod.StatusOf(out.name);
  if (status == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat(
        pending, "container \"", out.name, "\" of pod ", pod_ref, " has not started yet (phase ",
        pod.phase, "); wait until it runs (", watch_hint, ")"));
  }
  if (out.kind == ContainerKind::kInit && status->state == "terminated") {
    return absl::FailedPreconditionError(absl::StrCat(
        "init container \"", out.name, "\" of pod ", pod_ref, " has finished",
        status->state_reason.empty() ? "" : absl::StrCat(" (", status->state_reason, ")"),
        ": init containers run to completion before the app starts; debug a running container: ",
        ContainerNames(pod)));
  }
  if (status->state != "running") {
    std::string why =
        status->state_reason.empty() ? "" : absl::StrCat(" (", status->state_reason, ")");
    return absl::FailedPreconditionError(
        absl::StrCat(pending, "container \"", out.name, "\" of pod ", pod_ref, " is ",
                     status->state.empty() ? "not running" : status->state, why,
                     "; kdbg debugs running containers only (see `kubectl describe pod ", pod.name,
                     " -n ", pod.namespace_, "`)"));
  }
  if (status->container_id.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("container \"", out.name, "\" of pod ", pod_ref,
                     " has no container ID yet; retry in a moment"));
  }
  out.container_id = status->container_id;
  return out;
}

}  // namespace kdbg::kube
