#include "kube/probes.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace kdbg::kube {

StopBudget StopBudgetOf(const ContainerSpec& container, int share_percent) {
  StopBudget out;
  out.share_percent = std::clamp(share_percent, 1, 100);
  if (!container.liveness_probe.has_value()) {
    out.summary = "no liveness probe: a stop does not make the kubelet restart the container";
    return out;
  }
  const Probe& p = *container.liveness_probe;
  out.has_liveness_probe = true;
  out.probe = absl::StrCat(p.handler, " every ", p.period_seconds, "s, timeout ", p.timeout_seconds,
                           "s, failure threshold ", p.failure_threshold);
  out.budget = absl::Seconds(int64_t{p.failure_threshold - 1} * p.period_seconds) +
               absl::Seconds(p.timeout_seconds);
  out.max_stop = out.budget * out.share_percent / 100;
  out.summary = absl::StrCat("liveness probe ", out.probe,
                             ": the kubelet restarts the container after a stop of ",
                             absl::FormatDuration(out.budget), "; kdbg resumes a stop after ",
                             absl::FormatDuration(out.max_stop), " (", out.share_percent, "%)");
  return out;
}

StopBudget StopBudgetOf(const Pod& pod, const std::string& container, int share_percent) {
  for (const auto* list : {&pod.containers, &pod.init_containers}) {
    for (const ContainerSpec& c : *list) {
      if (c.name == container) return StopBudgetOf(c, share_percent);
    }
  }
  return StopBudgetOf(ContainerSpec{}, share_percent);
}

}  // namespace kdbg::kube
