#include "cli/target.h"

#include <algorithm>
#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status.h"
#include "kube/names.h"

namespace kdbg::cli {
namespace {

bool IsPodKind(const std::string& kind) { return kind == "pod" || kind == "pods" || kind == "po"; }

constexpr char kKinds[] =
    "pod/NAME, deploy/NAME, statefulset/NAME, daemonset/NAME, replicaset/NAME, job/NAME or -l "
    "KEY=VALUE";

}  // namespace

absl::StatusOr<std::string> ParseTarget(const std::string& target) {
  std::string name = target;
  auto slash = target.find('/');
  if (slash != std::string::npos) {
    std::string kind = absl::AsciiStrToLower(target.substr(0, slash));
    name = target.substr(slash + 1);
    if (!IsPodKind(kind)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "target \"", target, "\": kdbg debugs pods; name one as pod/NAME or NAME (find it with ",
          "`kubectl get pods -l ...`)"));
    }
  }
  if (!kube::IsDns1123Subdomain(name)) {
    return absl::InvalidArgumentError(
        absl::StrCat("target \"", target, "\": \"", name, "\" is not a valid pod name"));
  }
  return name;
}

std::string TargetSpec::Describe() const {
  switch (kind) {
    case Kind::kPod:
      return absl::StrCat("pod/", name);
    case Kind::kWorkload:
      return absl::StrCat(kube::WorkloadKindName(workload), "/", name);
    case Kind::kSelector:
      return absl::StrCat("-l ", selector.ToString());
  }
  return name;
}

absl::StatusOr<TargetSpec> ParseTargetSpec(const std::string& target, const std::string& selector) {
  TargetSpec spec;
  if (!target.empty() && !selector.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("name the target either as TARGET (\"", target,
                                                   "\") or with -l (\"", selector,
                                                   "\"), not both"));
  }
  if (!selector.empty()) {
    spec.kind = TargetSpec::Kind::kSelector;
    auto sel = kube::LabelSelector::Parse(selector);
    if (!sel.ok()) return Annotate(sel.status(), "-l");
    if (sel->Empty()) {
      return absl::InvalidArgumentError("-l: the selector is empty; name labels, e.g. -l app=web");
    }
    spec.selector = std::move(*sel);
    return spec;
  }
  if (target.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("name a target: ", kKinds));
  }
  auto slash = target.find('/');
  if (slash == std::string::npos || IsPodKind(absl::AsciiStrToLower(target.substr(0, slash)))) {
    KDBG_ASSIGN_OR_RETURN(spec.name, ParseTarget(target));
    return spec;
  }
  const std::string word = target.substr(0, slash);
  std::optional<kube::WorkloadKind> kind = kube::ParseWorkloadKind(word);
  if (!kind) {
    return absl::InvalidArgumentError(absl::StrCat(
        "target \"", target, "\": kdbg does not trace a \"", word, "\"; name ", kKinds));
  }
  spec.kind = TargetSpec::Kind::kWorkload;
  spec.workload = *kind;
  spec.name = target.substr(slash + 1);
  if (!kube::IsDns1123Subdomain(spec.name)) {
    return absl::InvalidArgumentError(absl::StrCat("target \"", target, "\": \"", spec.name,
                                                   "\" is not a valid ",
                                                   kube::WorkloadKindName(*kind), " name"));
  }
  return spec;
}

absl::StatusOr<PodSet> ListTargetPods(Cluster& cluster, const std::string& ns,
                                      const TargetSpec& spec) {
  PodSet set;
  set.selection = spec.Describe();
  kube::LabelSelector selector = spec.selector;
  if (spec.kind == TargetSpec::Kind::kWorkload) {
    auto w = cluster.GetWorkload(spec.workload, ns, spec.name);
    if (!w.ok()) {
      return Annotate(w.status(), absl::StrCat("reading ", set.selection, " in namespace ", ns,
                                               " from the Kubernetes API"));
    }
    selector = w->selector;
  }
  auto pods = cluster.ListPods(ns, selector.ToString());
  if (!pods.ok()) {
    return Annotate(pods.status(),
                    absl::StrCat("listing the pods of ", set.selection, " in namespace ", ns));
  }
  std::sort(pods->begin(), pods->end(),
            [](const kube::Pod& a, const kube::Pod& b) { return a.name < b.name; });
  for (kube::Pod& p : *pods) {
    if (p.phase == "Running" && !p.deleting) {
      set.pods.push_back(std::move(p));
    } else {
      set.skipped.push_back(absl::StrCat(p.name, " (", p.deleting ? "Terminating" : p.phase, ")"));
    }
  }
  if (set.pods.empty()) {
    std::string found = set.skipped.empty()
                            ? "no pod matches its selector"
                            : absl::StrCat("none is Running: ", absl::StrJoin(set.skipped, ", "));
    return absl::FailedPreconditionError(
        absl::StrCat(set.selection, " in namespace ", ns, ": ", found,
                     spec.kind == TargetSpec::Kind::kWorkload
                         ? absl::StrCat(" (selector ", selector.ToString(), ")")
                         : "",
                     "; check with `kubectl get pods -n ", ns, " -l '", selector.ToString(), "'`"));
  }
  return set;
}

std::vector<kube::Pod> ChoosePods(const std::vector<kube::Pod>& pods, int max) {
  if (max <= 0 || static_cast<size_t>(max) >= pods.size()) return pods;
  std::map<std::string, std::vector<const kube::Pod*>> by_node;
  for (const kube::Pod& p : pods) by_node[p.node_name].push_back(&p);
  for (auto& [node, list] : by_node) {
    std::sort(list.begin(), list.end(),
              [](const kube::Pod* a, const kube::Pod* b) { return a->name < b->name; });
  }
  std::vector<kube::Pod> out;
  for (size_t round = 0; out.size() < static_cast<size_t>(max); ++round) {
    for (auto& [node, list] : by_node) {
      if (round < list.size() && out.size() < static_cast<size_t>(max)) out.push_back(*list[round]);
    }
  }
  std::sort(out.begin(), out.end(),
            [](const kube::Pod& a, const kube::Pod& b) { return a.name < b.name; });
  return out;
}

}  // namespace kdbg::cli
