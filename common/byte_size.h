// Byte sizes as people write them in configuration and read them in messages.
//
// Accepted by ParseByteSize (Kubernetes quantity style, binary or decimal suffixes):
//   "536870912"  "512Mi"  "1Gi"  "64Ki"  "500M"  "2G"  "1Ti"
// Written by HumanSize: "512 MiB", "1.5 GiB", "812 KiB", "17 bytes".
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace kdbg {

// InvalidArgument for anything else (negative, fractions, unknown suffix, overflow).
absl::StatusOr<int64_t> ParseByteSize(absl::string_view text);

std::string HumanSize(int64_t bytes);

}  // namespace kdbg
