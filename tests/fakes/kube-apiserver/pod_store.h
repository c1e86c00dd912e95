// The stub's pods: every *.json file in a directory holds one Pod (or a PodList/List of pods), in
// the API's real shape. Rescan() diffs the directory against what it saw last and records
// ADDED / MODIFIED / DELETED changes, each with a new resourceVersion, so a sandbox can add,
// change or remove pods while the stub runs. Write files atomically (write, then rename).
// Thread-safe.
#pragma once

#include <deque>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "kube/objects.h"
#include "nlohmann/json.hpp"

namespace kdbg::kube::stub {

// Exempt from bugprone-exception-escape: nlohmann::json's noexcept destructor may allocate
// (bad_alloc ends the process, as anywhere).
// NOLINTNEXTLINE(bugprone-exception-escape)
struct StoredPod {
  nlohmann::json object;  // as served: metadata.resourceVersion set to the store's version
  Pod pod;                // parsed, for selectors
  std::string source;     // file text, to detect changes
};

struct PodChange {
  long version = 0;
  std::string type;  // ADDED, MODIFIED, DELETED
  StoredPod pod;
};

class PodStore {
 public:
  explicit PodStore(std::string dir);

  // Re-reads the directory. Files that do not parse are skipped with a warning on stderr (a
  // half-written file is retried on the next scan).
  void Rescan();

  long version() const;
  std::vector<StoredPod> List(const std::string& ns) const;
  std::optional<StoredPod> Get(const std::string& ns, const std::string& name) const;
  // Changes with version > `after`. OutOfRange ("too old resource version: A (B)") when `after`
  // is older than the oldest change kept.
  absl::Status ChangesSince(long after, std::vector<PodChange>* out) const;
  // Blocks until version() > `after` or `timeout`; true if there is something new.
  bool WaitForChange(long after, absl::Duration timeout) const;

 private:
  void Record(const std::string& type, StoredPod sp) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string dir_;
  mutable absl::Mutex mu_;
  std::map<std::pair<std::string, std::string>, StoredPod> pods_ ABSL_GUARDED_BY(mu_);
  std::deque<PodChange> changes_ ABSL_GUARDED_BY(mu_);
  long version_ ABSL_GUARDED_BY(mu_) = 1000;
  long oldest_ ABSL_GUARDED_BY(mu_) = 1000;  // ChangesSince(after >= oldest_) is complete
};

}  // namespace kdbg::kube::stub
