#include "controller/routing.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/status.h"
#include "kube/containers.h"

namespace kdbg::controller {
namespace {

constexpr char kOsLabel[] = "kubernetes.io/os";

}  // namespace

bool PodIsReady(const kube::Pod& pod) {
  if (pod.deleting || pod.phase != "Running") return false;
  for (const auto& [type, status] : pod.conditions) {
    if (type == "Ready") return status == "True";
  }
  return false;
}

absl::StatusOr<v1::TargetRef> TargetFor(const kube::Pod& pod, absl::string_view container) {
  KDBG_ASSIGN_OR_RETURN(kube::SelectedContainer chosen, kube::SelectContainer(pod, container));
  v1::TargetRef ref;
  ref.set_container_id(chosen.container_id);
  ref.set_container_name(chosen.name);
  ref.set_pod_namespace(pod.namespace_);
  ref.set_pod_name(pod.name);
  ref.set_pod_uid(pod.uid);
  return ref;
}

AgentDirectory::AgentDirectory(kube::Client* kube, Options options)
    : kube_(kube), options_(std::move(options)) {}

AgentDirectory::~AgentDirectory() { Stop(); }

absl::Status AgentDirectory::Start() {
  absl::Status s = Relist();
  watcher_ = std::thread([this] { WatchLoop(); });
  return s;
}

void AgentDirectory::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  if (watcher_.joinable()) watcher_.join();
}

absl::Status AgentDirectory::Relist() {
  kube::ListOptions opts;
  opts.label_selector = options_.label_selector;
  std::string rv;
  absl::StatusOr<std::vector<kube::Pod>> pods = kube_->ListPods(options_.ns, opts, &rv);
  if (!pods.ok()) return pods.status();
  absl::MutexLock lock(&mu_);
  agents_.clear();
  for (auto& p : *pods) agents_[p.name] = std::move(p);
  resource_version_ = rv;
  listed_ = true;
  return absl::OkStatus();
}

void AgentDirectory::WatchLoop() {
  absl::Duration backoff = absl::Milliseconds(200);
  auto stopping = [this] {
    absl::MutexLock lock(&mu_);
    return stop_;
  };
  auto wait = [this](absl::Duration d) {
    absl::MutexLock lock(&mu_);
    mu_.AwaitWithTimeout(absl::Condition(&stop_), d);
  };
  while (!stopping()) {
    std::string rv;
    {
      absl::MutexLock lock(&mu_);
      rv = resource_version_;
    }
    if (rv.empty()) {
      absl::Status s = Relist();
      if (!s.ok()) {
        log::Warning("cannot list agent pods", {{"error", std::string(s.message())}});
        wait(backoff);
        backoff = std::min(backoff * 2, absl::Seconds(10));
        continue;
      }
      backoff = absl::Milliseconds(200);
      continue;
    }
    kube::ListOptions opts;
    opts.label_selector = options_.label_selector;
    // Short watch windows: Stop() waits for the current one, and a silently dead connection is
    // noticed within one window. One request per window is negligible load on the API server.
    opts.timeout_seconds = 5;
    int events = 0;
    absl::Status s =
        kube_->WatchPods(options_.ns, opts, rv, [this, &events](const kube::WatchEvent& ev) {
          ++events;
          absl::MutexLock lock(&mu_);
          if (stop_) return false;
          if (ev.type == "ADDED" || ev.type == "MODIFIED") {
            agents_[ev.pod.name] = ev.pod;
          } else if (ev.type == "DELETED") {
            agents_.erase(ev.pod.name);
          } else if (ev.type == "ERROR") {
            resource_version_.clear();  // re-list
            return false;
          }
          if (!ev.pod.resource_version.empty()) resource_version_ = ev.pod.resource_version;
          return true;
        });
    if (s.ok() && events == 0) {
      wait(absl::Milliseconds(100));  // the server ended an idle watch window: do not spin
    } else if (absl::IsOutOfRange(s)) {
      absl::MutexLock lock(&mu_);
      resource_version_.clear();
    } else if (!s.ok()) {
      log::Warning("agent pod watch failed", {{"error", std::string(s.message())}});
      wait(backoff);
      backoff = std::min(backoff * 2, absl::Seconds(10));
    }
  }
}

AgentEndpoint AgentDirectory::EndpointOf(const kube::Pod& pod) const {
  std::string ip = pod.pod_ip.empty() ? pod.host_ip : pod.pod_ip;
  std::string host = absl::StrContains(ip, ':') ? absl::StrCat("[", ip, "]") : ip;
  return AgentEndpoint{pod.name, pod.node_name, absl::StrCat(host, ":", options_.port),
                       PodIsReady(pod)};
}

absl::StatusOr<AgentEndpoint> AgentDirectory::ForNode(const std::string& node,
                                                      const kube::Pod* target) {
  std::vector<kube::Pod> candidates;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [name, pod] : agents_) {
      if (pod.node_name == node) candidates.push_back(pod);
    }
  }
  bool any_ready = std::any_of(candidates.begin(), candidates.end(), PodIsReady);
  if (!any_ready) {
    // The cache may lag behind a just-(re)started agent: ask the API server.
    kube::ListOptions opts;
    opts.label_selector = options_.label_selector;
    opts.field_selector = absl::StrCat("spec.nodeName=", node);
    absl::StatusOr<std::vector<kube::Pod>> pods = kube_->ListPods(options_.ns, opts);
    if (!pods.ok()) {
      return absl::UnavailableError(absl::StrCat("cannot find the kdbg agent of node ", node,
                                                 ": listing agent pods failed (",
                                                 pods.status().message(), ")"));
    }
    candidates.clear();
    for (auto& p : *pods) {
      if (p.node_name == node) candidates.push_back(std::move(p));
    }
  }
  for (const auto& pod : candidates) {
    if (PodIsReady(pod)) return EndpointOf(pod);
  }
  if (!candidates.empty()) {
    const kube::Pod& p = candidates.front();
    return absl::UnavailableError(absl::StrCat(
        "the kdbg agent on node ", node, " (pod ", options_.ns, "/", p.name, ", phase ", p.phase,
        ") is not ready; check `kubectl -n ", options_.ns, " describe pod ", p.name, "`"));
  }
  if (target != nullptr) {
    auto os = target->node_selector.find(kOsLabel);
    if (os != target->node_selector.end() && os->second != "linux") {
      return absl::FailedPreconditionError(
          absl::StrCat("node ", node, " is not a Linux node (the pod selects ", kOsLabel, "=",
                       os->second, "); kdbg debugs Go processes on Linux nodes only"));
    }
  }
  return absl::FailedPreconditionError(
      absl::StrCat("no kdbg agent runs on node ", node, " (no pod labelled ",
                   options_.label_selector, " in namespace ", options_.ns,
                   " on that node); check the kdbg-agent DaemonSet's "
                   "tolerations and nodeSelector"));
}

std::vector<AgentEndpoint> AgentDirectory::ReadyAgents() {
  bool listed;
  {
    absl::MutexLock lock(&mu_);
    listed = listed_;
  }
  if (!listed) (void)Relist();
  std::vector<AgentEndpoint> out;
  absl::MutexLock lock(&mu_);
  for (const auto& [name, pod] : agents_) {
    if (PodIsReady(pod)) out.push_back(EndpointOf(pod));
  }
  return out;
}

std::vector<AgentEndpoint> AgentDirectory::AllAgents() {
  bool listed;
  {
    absl::MutexLock lock(&mu_);
    listed = listed_;
  }
  if (!listed) (void)Relist();
  std::vector<AgentEndpoint> out;
  absl::MutexLock lock(&mu_);
  for (const auto& [name, pod] : agents_) out.push_back(EndpointOf(pod));
  return out;
}

}  // namespace kdbg::controller
