#include "kube/testing/fake_client.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "kube/testing/selector.h"

namespace kdbg::kube::testing {

void FakeClient::AddPod(Pod pod) {
  absl::MutexLock lock(&mu_);
  auto key = std::make_pair(pod.namespace_, pod.name);
  bool existed = pods_.count(key) > 0;
  pod.resource_version = absl::StrCat(++version_);
  pods_[key] = pod;
  RecordChange(existed ? "MODIFIED" : "ADDED", pod);
}

absl::Status FakeClient::AddPodJson(absl::string_view json) {
  KDBG_ASSIGN_OR_RETURN(Pod pod, ParsePod(json));
  AddPod(std::move(pod));
  return absl::OkStatus();
}

absl::Status FakeClient::DeletePod(const std::string& ns, const std::string& name) {
  absl::MutexLock lock(&mu_);
  auto it = pods_.find({ns, name});
  if (it == pods_.end()) return absl::NotFoundError(absl::StrCat("pods \"", name, "\" not found"));
  Pod pod = it->second;
  pods_.erase(it);
  pod.resource_version = absl::StrCat(++version_);
  RecordChange("DELETED", pod);
  return absl::OkStatus();
}

void FakeClient::RecordChange(const std::string& type, const Pod& pod) {
  WatchEvent ev;
  ev.type = type;
  ev.pod = pod;
  changes_.push_back({version_, std::move(ev)});
}

void FakeClient::AddToken(const std::string& token, UserInfo user) {
  absl::MutexLock lock(&mu_);
  user.authenticated = true;
  tokens_[token] = std::move(user);
}

void FakeClient::AddRejectedToken(const std::string& token, const std::string& error) {
  absl::MutexLock lock(&mu_);
  UserInfo user;
  user.authenticated = false;
  user.error = error;
  tokens_[token] = std::move(user);
}

void FakeClient::AddRule(AccessRule rule) {
  absl::MutexLock lock(&mu_);
  rules_.Add(std::move(rule));
}

void FakeClient::InjectError(Method method, absl::Status status) {
  absl::MutexLock lock(&mu_);
  injected_[method].push_back(std::move(status));
}

void FakeClient::SetPersistentError(Method method, absl::Status status) {
  absl::MutexLock lock(&mu_);
  persistent_[method] = std::move(status);
}

void FakeClient::ClearErrors() {
  absl::MutexLock lock(&mu_);
  injected_.clear();
  persistent_.clear();
}

void FakeClient::set_watch_blocks(bool blocks) {
  absl::MutexLock lock(&mu_);
  watch_blocks_ = blocks;
}

void FakeClient::EndWatches() {
  absl::MutexLock lock(&mu_);
  watch_blocks_ = false;
}

std::vector<EventSpec> FakeClient::events() const {
  absl::MutexLock lock(&mu_);
  return events_;
}

std::vector<std::pair<UserInfo, ResourceAttributes>> FakeClient::access_reviews() const {
  absl::MutexLock lock(&mu_);
  return access_reviews_;
}

std::vector<std::string> FakeClient::reviewed_tokens() const {
  absl::MutexLock lock(&mu_);
  return reviewed_tokens_;
}

int FakeClient::calls(Method method) const {
  absl::MutexLock lock(&mu_);
  auto it = calls_.find(method);
  return it == calls_.end() ? 0 : it->second;
}

std::string FakeClient::current_resource_version() const {
  absl::MutexLock lock(&mu_);
  return absl::StrCat(version_);
}

absl::Status FakeClient::BeginCall(Method method) {
  ++calls_[method];
  if (auto it = persistent_.find(method); it != persistent_.end()) return it->second;
  auto& queue = injected_[method];
  if (queue.empty()) return absl::OkStatus();
  absl::Status s = queue.front();
  queue.pop_front();
  return s;
}

void FakeClient::AddWorkload(Workload workload) {
  absl::MutexLock lock(&mu_);
  workloads_[{workload.kind, workload.namespace_, workload.name}] = std::move(workload);
}

absl::Status FakeClient::AddWorkloadJson(WorkloadKind kind, absl::string_view json) {
  KDBG_ASSIGN_OR_RETURN(Workload w, ParseWorkload(kind, json));
  if (w.namespace_.empty()) w.namespace_ = "default";
  AddWorkload(std::move(w));
  return absl::OkStatus();
}

absl::StatusOr<Workload> FakeClient::GetWorkload(WorkloadKind kind, const std::string& ns,
                                                 const std::string& name) {
  absl::MutexLock lock(&mu_);
  KDBG_RETURN_IF_ERROR(BeginCall(Method::kGetWorkload));
  auto it = workloads_.find({kind, ns, name});
  if (it == workloads_.end()) {
    // The API server's words: `deployments.apps "web" not found`, `jobs.batch "x" not found`.
    std::string resource = WorkloadPath(kind, "", "");
    resource = resource.substr(resource.rfind("//") + 2);
    resource.pop_back();
    std::string group = kind == WorkloadKind::kJob ? "batch" : "apps";
    return absl::NotFoundError(absl::StrCat(resource, ".", group, " \"", name, "\" not found"));
  }
  return it->second;
}

absl::StatusOr<Pod> FakeClient::GetPod(const std::string& ns, const std::string& name) {
  absl::MutexLock lock(&mu_);
  KDBG_RETURN_IF_ERROR(BeginCall(Method::kGetPod));
  auto it = pods_.find({ns, name});
  if (it == pods_.end()) return absl::NotFoundError(absl::StrCat("pods \"", name, "\" not found"));
  return it->second;
}

absl::StatusOr<std::vector<Pod>> FakeClient::ListPods(const std::string& ns,
                                                      const ListOptions& opts,
                                                      std::string* resource_version) {
  absl::MutexLock lock(&mu_);
  KDBG_RETURN_IF_ERROR(BeginCall(Method::kListPods));
  KDBG_ASSIGN_OR_RETURN(PodSelector sel,
                        PodSelector::Parse(opts.label_selector, opts.field_selector));
  std::vector<Pod> out;
  for (const auto& [key, pod] : pods_) {
    if ((ns.empty() || key.first == ns) && sel.Matches(pod)) out.push_back(pod);
  }
  if (resource_version != nullptr) *resource_version = absl::StrCat(version_);
  return out;
}

absl::Status FakeClient::WatchPods(const std::string& ns, const ListOptions& opts,
                                   const std::string& resource_version,
                                   const std::function<bool(const WatchEvent&)>& on_event) {
  long from = 0;
  PodSelector sel;
  std::vector<WatchEvent> initial;
  {
    absl::MutexLock lock(&mu_);
    KDBG_RETURN_IF_ERROR(BeginCall(Method::kWatchPods));
    KDBG_ASSIGN_OR_RETURN(sel, PodSelector::Parse(opts.label_selector, opts.field_selector));
    if (resource_version.empty() || resource_version == "0") {
      // Like the API server: the current state first, as synthetic ADDED events.
      for (const auto& [key, pod] : pods_) {
        if ((ns.empty() || key.first == ns) && sel.Matches(pod)) {
          initial.push_back(WatchEvent{"ADDED", pod, "", 0});
        }
      }
      from = version_;
    } else if (!absl::SimpleAtoi(resource_version, &from)) {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid resourceVersion \"", resource_version, "\""));
    } else if (from < first_version_) {
      return absl::OutOfRangeError(
          absl::StrCat("too old resource version: ", from, " (", first_version_, ")"));
    }
  }
  for (const WatchEvent& ev : initial) {
    if (!on_event(ev)) return absl::OkStatus();
  }
  size_t next = 0;
  while (true) {
    std::vector<WatchEvent> batch;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return next < changes_.size() || !watch_blocks_;
      };
      mu_.Await(absl::Condition(&ready));
      for (; next < changes_.size(); ++next) {
        const Change& c = changes_[next];
        if (c.version <= from) continue;
        if (!ns.empty() && c.event.pod.namespace_ != ns) continue;
        if (!sel.Matches(c.event.pod)) continue;
        batch.push_back(c.event);
      }
      if (batch.empty() && !watch_blocks_) {
        return absl::OkStatus();
      }
    }
    for (const WatchEvent& ev : batch) {
      if (!on_event(ev)) return absl::OkStatus();
    }
  }
}

absl::StatusOr<UserInfo> FakeClient::ReviewToken(const std::string& token) {
  absl::MutexLock lock(&mu_);
  KDBG_RETURN_IF_ERROR(BeginCall(Method::kReviewToken));
  reviewed_tokens_.push_back(token);
  auto it = tokens_.find(token);
  if (it == tokens_.end()) {
    UserInfo anon;
    anon.authenticated = false;
    anon.error = "[invalid bearer token, token lookup failed]";
    return anon;
  }
  return it->second;
}

absl::StatusOr<AccessDecision> FakeClient::ReviewAccess(const UserInfo& user,
                                                        const ResourceAttributes& attrs) {
  absl::MutexLock lock(&mu_);
  KDBG_RETURN_IF_ERROR(BeginCall(Method::kReviewAccess));
  access_reviews_.emplace_back(user, attrs);
  return rules_.Decide(user, attrs);
}

absl::Status FakeClient::CreateEvent(const EventSpec& event) {
  absl::MutexLock lock(&mu_);
  KDBG_RETURN_IF_ERROR(BeginCall(Method::kCreateEvent));
  events_.push_back(event);
  return absl::OkStatus();
}

}  // namespace kdbg::kube::testing
