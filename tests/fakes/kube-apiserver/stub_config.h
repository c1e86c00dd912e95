// Configuration of the Kubernetes API stub (format: README.md next to this file).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "kube/objects.h"
#include "kube/testing/access_rules.h"

namespace kdbg::kube::stub {

struct StubConfig {
  std::string pods_dir;
  // Workload objects served read-only: <workloads_dir>/<resource>.<namespace>.<name>.json
  // ("deployments.default.hello.json"); empty: none (every GET is 404).
  std::string workloads_dir;
  std::map<std::string, UserInfo> users;  // bearer token -> user (authenticated)
  AccessRules rules;
};

// Parses YAML or JSON. Relative pods_dir resolves against `base_dir`. InvalidArgument names the
// bad field.
absl::StatusOr<StubConfig> ParseStubConfig(absl::string_view text, const std::string& base_dir);
absl::StatusOr<StubConfig> LoadStubConfig(const std::string& path);

}  // namespace kdbg::kube::stub
