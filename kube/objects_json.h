// JSON-level helpers behind kube/objects.h, for code in kube/ and the API stub that already holds
// a parsed nlohmann::json. Never throw.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "kube/objects.h"
#include "nlohmann/json.hpp"

namespace kdbg::kube {

// InvalidArgument "<what>: not valid JSON" on a syntax error.
absl::StatusOr<nlohmann::json> ParseJson(absl::string_view text, absl::string_view what);
absl::StatusOr<Pod> PodFromJson(const nlohmann::json& j);
absl::StatusOr<std::vector<Pod>> PodListFromJson(const nlohmann::json& j,
                                                 std::string* resource_version);

}  // namespace kdbg::kube
