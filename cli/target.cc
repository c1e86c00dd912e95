#include "cli/target.h"

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace kdbg::cli {
namespace {

bool ValidName(const std::string& name) {
  if (name.empty() || name.size() > 253) return false;
  for (char c : name) {
    if (!(absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '-' || c == '.')) return false;
  }
  return absl::ascii_isalnum(name.front()) && absl::ascii_isalnum(name.back());
}

constexpr char kDefaultContainerAnnotation[] = "kubectl.kubernetes.io/default-container";

}  // namespace

absl::StatusOr<std::string> ParseTarget(const std::string& target) {
  std::string name = target;
  auto slash = target.find('/');
  if (slash != std::string::npos) {
    std::string kind = absl::AsciiStrToLower(target.substr(0, slash));
    name = target.substr(slash + 1);
    if (kind != "pod" && kind != "pods" && kind != "po") {
      return absl::InvalidArgumentError(absl::StrCat(
          "target \"", target, "\": kdbg debugs pods; name one as pod/NAME or NAME (find it with ",
          "`kubectl get pods -l ...`)"));
    }
  }
  if (!ValidName(name)) {
    return absl::InvalidArgumentError(
        absl::StrCat("target \"", target, "\": \"", name, "\" is not a valid pod name"));
  }
  return name;
}

absl::StatusOr<std::string> SelectContainer(const kube::Pod& pod, const std::string& requested) {
  std::vector<std::string> names;
  for (const auto& c : pod.containers) names.push_back(c.name);
  std::string pod_ref = absl::StrCat(pod.namespace_, "/", pod.name);
  std::string name = requested;
  if (name.empty()) {
    auto it = pod.annotations.find(kDefaultContainerAnnotation);
    if (it != pod.annotations.end() && !it->second.empty()) {
      name = it->second;
    } else if (!names.empty()) {
      name = names.front();
    } else {
      return absl::FailedPreconditionError(absl::StrCat("pod ", pod_ref, " has no containers"));
    }
  }
  bool known = false;
  for (const auto& n : names) known = known || n == name;
  if (!known) {
    return absl::NotFoundError(absl::StrCat("container \"", name, "\" not found in pod ", pod_ref,
                                            "; its containers are: ", absl::StrJoin(names, ", "),
                                            " (choose one with -c NAME)"));
  }
  if (pod.deleting) {
    return absl::FailedPreconditionError(
        absl::StrCat("pod ", pod_ref, " is being deleted; debug another replica"));
  }
  if (pod.phase == "Pending") {
    return absl::FailedPreconditionError(
        absl::StrCat("pod ", pod_ref,
                     " is Pending: its containers are not running yet; wait for it "
                     "(`kubectl get pod ",
                     pod.name, " -n ", pod.namespace_, " -w`)"));
  }
  if (pod.phase == "Succeeded" || pod.phase == "Failed") {
    return absl::FailedPreconditionError(absl::StrCat("pod ", pod_ref, " has finished (phase ",
                                                      pod.phase, "); nothing runs in it to debug"));
  }
  const kube::ContainerStatus* status = nullptr;
  for (const auto& s : pod.container_statuses) {
    if (s.name == name) status = &s;
  }
  if (status == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat("container \"", name, "\" of pod ", pod_ref,
                                                      " has no status yet; wait until it runs"));
  }
  if (status->state != "running") {
    std::string why =
        status->state_reason.empty() ? "" : absl::StrCat(" (", status->state_reason, ")");
    return absl::FailedPreconditionError(
        absl::StrCat("container \"", name, "\" of pod ", pod_ref, " is ",
                     status->state.empty() ? "not running" : status->state, why,
                     "; kdbg attaches to running containers only (see `kubectl describe pod ",
                     pod.name, " -n ", pod.namespace_, "`)"));
  }
  return name;
}

}  // namespace kdbg::cli
