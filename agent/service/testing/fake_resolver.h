// FakeResolver: a table of container IDs -> ResolvedTarget for tests of the agent service.
// Thread-safe.
#pragma once

#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "agent/resolver/resolver.h"

namespace kdbg::agent::testing {

class FakeResolver final : public Resolver {
 public:
  // Adds (or replaces) a debuggable Go target for `container_id` at `pid`.
  void Add(const std::string& container_id, int pid) {
    kdbg::v1::ResolvedTarget t;
    t.set_host_pid(pid);
    t.set_container_id(container_id);
    t.set_runtime("containerd");
    t.set_start_time_ticks(1000 + pid);
    t.set_debuggable(true);
    t.mutable_binary()->set_path("/hello-world");
    t.mutable_binary()->set_go_version("go1.19.8");
    t.mutable_binary()->set_has_dwarf(true);
    t.add_evidence(absl::StrCat("fake: container ", container_id, " -> pid ", pid));
    AddTarget(t);
  }
  void AddTarget(const kdbg::v1::ResolvedTarget& t) {
    absl::MutexLock lock(&mu_);
    targets_[t.container_id()] = t;
  }
  // Makes Resolve fail with `status` for `container_id`.
  void AddError(const std::string& container_id, absl::Status status) {
    absl::MutexLock lock(&mu_);
    errors_[container_id] = std::move(status);
  }
  int resolve_calls() const {
    absl::MutexLock lock(&mu_);
    return resolve_calls_;
  }

  absl::StatusOr<kdbg::v1::ResolvedTarget> Resolve(const kdbg::v1::TargetRef& target) override {
    absl::MutexLock lock(&mu_);
    ++resolve_calls_;
    if (auto e = errors_.find(target.container_id()); e != errors_.end()) return e->second;
    auto it = targets_.find(target.container_id());
    if (it == targets_.end()) {
      return absl::NotFoundError(
          absl::StrCat("no process of container ", target.container_id(), " on this node"));
    }
    return it->second;
  }
  absl::Status Verify(const kdbg::v1::ResolvedTarget&) override { return absl::OkStatus(); }

 private:
  mutable absl::Mutex mu_;
  std::map<std::string, kdbg::v1::ResolvedTarget> targets_;
  std::map<std::string, absl::Status> errors_;
  int resolve_calls_ = 0;
};

}  // namespace kdbg::agent::testing
