// Which bundled Delve debugs which Go: the one table of Delve versions and the Go versions each
// supports, and the choice of a Delve for a target.
//
// Delve supports a sliding window of Go versions (pkg/goversion/compat.go at each Delve tag,
// MinSupportedVersionOfGoMinor / MaxSupportedVersionOfGoMinor):
//   Delve 1.20.x  Go 1.18-1.20      Delve 1.26.x  Go 1.24-1.26
//   Delve 1.24.x  Go 1.21-1.24      Delve 1.27.x  Go 1.25-1.27
//   Delve 1.25.x  Go 1.22-1.25
// `dlv attach` never runs Delve's own check (only exec/debug/test/core do), and outside its window
// Delve fails silently (Delve 1.20 on a Go 1.26 binary shows no variables at all), so kdbg checks
// the target's Go version itself before attaching.
//
// `dlv version` prints:
//   Delve Debugger
//   Version: 1.27.2
//   Build: $Id: ... $
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "agent/resolver/new_resolver.h"

namespace kdbg::delve {

// Go 1.<min_minor> to Go 1.<max_minor>, both included.
struct GoRange {
  int min_minor = 0;
  int max_minor = 0;
  bool Contains(int minor) const { return minor >= min_minor && minor <= max_minor; }
  std::string ToString() const;  // "Go 1.25-1.27"
};

struct DelveBinary {
  std::string path;     // "/var/cache/kdbg/delve/v1.27.2/dlv"
  std::string version;  // "1.27.2"
  GoRange go;
};

// The Go range of a Delve version ("1.27.2"); nullopt for a version kdbg does not know.
std::optional<GoRange> SupportedGoOf(absl::string_view delve_version);
// The minor of a Go version as binaries record it: "go1.26.8" -> 26, "go1.27rc1" -> 27,
// "devel ..." / "" -> nullopt.
std::optional<int> GoMinor(absl::string_view go_version);
// Parses `dlv version` output (above) into the version ("1.27.2"); empty if absent.
std::string ParseDelveVersion(absl::string_view output);

// Probes every path of a comma-separated `--dlv` list; a path that cannot be used is left out and
// its error appended to `problems`.
std::vector<DelveBinary> ProbeDelves(absl::string_view dlv_list,
                                     std::vector<std::string>* problems);

// The resolver's Go-version gate for these Delves (CheckGoSupport as a GoVersionCheck): what
// `kdbg-agent serve` and `kdbg-agent resolve` both give the resolver.
std::function<agent::GoVersionCheck(const std::string& go_version)> NewGoVersionCheck(
    std::vector<DelveBinary> delves);

// Runs `PATH version` and fills a DelveBinary. FailedPrecondition when the file does not run or its
// version is not one this kdbg knows the Go range of.
absl::StatusOr<DelveBinary> ProbeDelve(const std::string& path);

// What the bundled Delves say about one target.
struct GoSupport {
  const DelveBinary* delve = nullptr;  // the newest Delve supporting it; nullptr if none does
  bool supported = false;
  // When !supported: the Delve to use anyway if the user insists (the nearest range), and the
  // sentence to show ("the program was built with go1.19.8, outside the bundled Delve's supported
  // range Go 1.24-1.27 (Delve 1.26.2: Go 1.24-1.26, Delve 1.27.2: Go 1.25-1.27); ...").
  std::string message;
  std::string range;  // "Go 1.24-1.27 (Delve 1.26.2: Go 1.24-1.26, Delve 1.27.2: Go 1.25-1.27)"
};
// `delves` in any order. An unknown Go version (empty, devel) is treated as the newest supported.
GoSupport CheckGoSupport(const std::vector<DelveBinary>& delves, absl::string_view go_version);

}  // namespace kdbg::delve
