// An in-memory kube::Client for unit tests of the controller and the CLI.
//
//   kdbg::kube::testing::FakeClient kube;
//   kube.AddPod(pod);                                  // or AddPodJson(fixture text)
//   kube.AddToken("t-alice", {.authenticated = true, .username = "alice", .groups = {"sre"}});
//   kube.AddRule({.name = "debuggers", .users = {"alice"}, .verbs = {"create"},
//                 .api_groups = {"kdbg.io"}, .resources = {"debugsessions"},
//                 .namespaces = {"default"}});
//   kube.InjectError(FakeClient::Method::kGetPod, absl::UnavailableError("connection refused"));
//   ... code under test ...
//   EXPECT_THAT(kube.events(), ...);
//
// Behaviour mirrors the real API server where it matters to callers:
// - GetPod of an unknown pod: NotFound `pods "abc" not found`.
// - ListPods honours label selectors (=, !=, in, notin, exists) and the pod field selectors
//   metadata.name, metadata.namespace, spec.nodeName, status.phase (others: InvalidArgument).
// - Every change (AddPod, DeletePod) bumps a resource version; WatchPods replays the changes made
//   after the given version, then either returns OK (the server closing the stream, the default)
//   or, with set_watch_blocks(true), waits for further changes until on_event returns false or
//   EndWatches() is called. A version older than the oldest recorded change: OutOfRange (410).
// - ReviewToken of an unknown token: authenticated=false with the API server's error text.
// - ReviewAccess decides with kube::AccessRules (reasons worded like RBAC's) and records the call.
// - CreateEvent records the event.
// Injected errors are returned instead of doing the call, once per injection (FIFO per method);
// SetPersistentError makes a method fail until ClearErrors().
// Thread-safe.
#pragma once

#include <deque>
#include <map>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "kube/client.h"
#include "kube/testing/access_rules.h"

namespace kdbg::kube::testing {

class FakeClient final : public Client {
 public:
  enum class Method {
    kGetPod,
    kListPods,
    kWatchPods,
    kReviewToken,
    kReviewAccess,
    kCreateEvent,
    kGetWorkload
  };

  // --- State set up by tests ---
  // Adds or replaces (same namespace/name) a pod; records ADDED or MODIFIED for watchers. The
  // pod's resource_version is overwritten with the new version.
  void AddPod(Pod pod);
  // Parses a Pod JSON document (e.g. a fixture) and adds it.
  absl::Status AddPodJson(absl::string_view json);
  // Removes a pod; records DELETED. NotFound if absent.
  absl::Status DeletePod(const std::string& ns, const std::string& name);
  // Adds or replaces a workload (GetWorkload of an unknown one: NotFound as the API words it).
  void AddWorkload(Workload workload);
  // Parses the object (e.g. a fixture of kube/testdata/workloads) and adds it.
  absl::Status AddWorkloadJson(WorkloadKind kind, absl::string_view json);
  void AddToken(const std::string& token, UserInfo user);
  // A token the API server knows but refuses (expired, revoked): the TokenReview answers
  // authenticated=false with `error` ("token has expired").
  void AddRejectedToken(const std::string& token, const std::string& error);
  void AddRule(AccessRule rule);
  void InjectError(Method method, absl::Status status);
  void SetPersistentError(Method method, absl::Status status);
  void ClearErrors();
  void set_watch_blocks(bool blocks);
  // Same as set_watch_blocks(false): every blocked WatchPods delivers what is pending and returns
  // OK, and later watches return after their backlog.
  void EndWatches();

  // --- What the code under test did ---
  std::vector<EventSpec> events() const;
  std::vector<std::pair<UserInfo, ResourceAttributes>> access_reviews() const;
  std::vector<std::string> reviewed_tokens() const;
  int calls(Method method) const;
  std::string current_resource_version() const;

  // --- kube::Client ---
  absl::StatusOr<Pod> GetPod(const std::string& ns, const std::string& name) override;
  absl::StatusOr<std::vector<Pod>> ListPods(const std::string& ns, const ListOptions& opts,
                                            std::string* resource_version = nullptr) override;
  absl::StatusOr<Workload> GetWorkload(WorkloadKind kind, const std::string& ns,
                                       const std::string& name) override;
  absl::Status WatchPods(const std::string& ns, const ListOptions& opts,
                         const std::string& resource_version,
                         const std::function<bool(const WatchEvent&)>& on_event) override;
  absl::StatusOr<UserInfo> ReviewToken(const std::string& token) override;
  absl::StatusOr<AccessDecision> ReviewAccess(const UserInfo& user,
                                              const ResourceAttributes& attrs) override;
  absl::Status CreateEvent(const EventSpec& event) override;

 private:
  struct Change {
    long version;
    WatchEvent event;
  };
  // Counts the call and pops an injected error, if any. Requires mu_ held.
  absl::Status BeginCall(Method method) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void RecordChange(const std::string& type, const Pod& pod) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  std::map<std::pair<std::string, std::string>, Pod> pods_ ABSL_GUARDED_BY(mu_);
  std::map<std::tuple<WorkloadKind, std::string, std::string>, Workload> workloads_
      ABSL_GUARDED_BY(mu_);
  std::map<std::string, UserInfo> tokens_ ABSL_GUARDED_BY(mu_);
  AccessRules rules_ ABSL_GUARDED_BY(mu_);
  std::map<Method, std::deque<absl::Status>> injected_ ABSL_GUARDED_BY(mu_);
  std::map<Method, absl::Status> persistent_ ABSL_GUARDED_BY(mu_);
  std::map<Method, int> calls_ ABSL_GUARDED_BY(mu_);
  std::vector<EventSpec> events_ ABSL_GUARDED_BY(mu_);
  std::vector<std::pair<UserInfo, ResourceAttributes>> access_reviews_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> reviewed_tokens_ ABSL_GUARDED_BY(mu_);
  std::vector<Change> changes_ ABSL_GUARDED_BY(mu_);
  long version_ ABSL_GUARDED_BY(mu_) = 1000;
  long first_version_ ABSL_GUARDED_BY(mu_) = 1000;
  bool watch_blocks_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace kdbg::kube::testing
