// TARGET parsing, as kubectl users expect it. (Which container: kube::SelectContainer.)
#pragma once

#include <string>

#include "absl/status/statusor.h"

namespace kdbg::cli {

// "pod/NAME", "pods/NAME", "po/NAME" or "NAME" -> NAME. InvalidArgument for other kinds
// ("deployment/x") or names that are not DNS-1123 subdomains.
absl::StatusOr<std::string> ParseTarget(const std::string& target);

}  // namespace kdbg::cli
