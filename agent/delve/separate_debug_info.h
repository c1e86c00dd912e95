// Pointing Delve at the unstripped binary of a stripped target's build (`--debug-binary`).
//
// Measured with Delve 1.20.2, and read in Delve 1.26.2's source (pkg/proc/native/proc_linux.go,
// Attach): on Linux's native backend `dlv attach PID EXECUTABLE` ignores EXECUTABLE; Delve opens
// /proc/PID/exe and, when that file has no DWARF, looks for separate debug info
// (pkg/proc/bininfo.go, openSeparateDebugInfo), last of all as
//   <dir>/<exe name>.debug   for each of its `debug-info-directories`
// where <exe name> is the base name of /proc/PID/exe resolved in Delve's own mount namespace, or
// "exe" when that path does not exist there (a container's binary, or a deleted one). Delve reads
// `debug-info-directories` from $XDG_CONFIG_HOME/dlv/config.yml:
//   debug-info-directories: ["/var/lib/kdbg-agent/debug-binaries/5f1c....dlv/debug"]
// So the engine gives Delve a private XDG_CONFIG_HOME holding that file and the two candidate
// names as symbolic links to the upload:
//   DIR/dlv/config.yml
//   DIR/debug/exe.debug            -> EXECUTABLE
//   DIR/debug/<basename>.debug     -> EXECUTABLE   (basename of the target's exe link)
#pragma once

#include <string>

#include "absl/status/status.h"

namespace kdbg::delve {

// The directory for `executable`: EXECUTABLE + ".dlv" (beside it, so whoever owns the executable's
// directory also sweeps what a killed agent left).
std::string SeparateDebugInfoDir(const std::string& executable);

// Creates the layout above in `dir` (removing an older one first). `target_exe` is the target's
// /proc/PID/exe; its link text ("/app/hello", or "/app/hello (deleted)") names the second link.
absl::Status PrepareSeparateDebugInfo(const std::string& dir, const std::string& executable,
                                      const std::string& target_exe);

// Removes `dir` and what it holds (never follows the links). Best effort.
void RemoveSeparateDebugInfo(const std::string& dir);

}  // namespace kdbg::delve
