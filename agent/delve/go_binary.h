// Is this executable a Go program Delve can debug? Delve happily attaches to a C program built with
// -g (its functions show up as `C.main`), so kdbg checks the ELF before starting Delve.
//
// A Go program has a `.go.buildinfo` section (Go >= 1.13, kept by -ldflags='-s -w') or, in older
// or unusual builds, a `.gopclntab` section or a `runtime.main` symbol. Debug info is a
// `.debug_info` or `.zdebug_info` section.
#pragma once

#include <string>

#include "absl/status/statusor.h"

namespace kdbg::delve {

struct GoBinaryFacts {
  bool is_go = false;
  bool has_debug_info = false;
};

// Errors: NotFound / PermissionDenied when the file cannot be opened, InvalidArgument when it is
// not an ELF file.
absl::StatusOr<GoBinaryFacts> InspectGoBinary(const std::string& path);

}  // namespace kdbg::delve
