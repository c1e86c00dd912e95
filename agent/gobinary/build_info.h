// Pure parsers of the Go-specific parts of an executable, over the bytes of one ELF section or one
// string. No file access: agent/gobinary/go_binary.h reads the sections and calls these.
//
// Formats (Go 1.18 and later; all real, from `go version -m` and the Go linker's source of truth,
// cmd/go/internal/version and debug/buildinfo):
//   .go.buildinfo      32-byte header: "\xff Go buildinf:" (14 bytes), pointer size (1 byte),
//                      flags (1 byte; bit 1 = inline strings, Go 1.18+), 16 bytes padding; then
//                      the varint-length-prefixed Go version ("go1.26.8") and module info, the
//                      latter framed by two 16-byte sentinels and made of tab-separated lines:
//                        path\texample.com/hello
//                        mod\texample.com/hello\t(devel)\t
//                        build\t-buildmode=exe
//                        build\t-compiler=gc
//                        build\t-gcflags="all=-N -l"
//                        build\t-ldflags="-s -w"
//                        build\tCGO_ENABLED=1
//                        build\tGOARCH=amd64
//                      A value holding spaces, tabs, quotes or '=' (after the key) is a Go quoted
//                      string ("\"all=-N -l\"").
//   .note.go.buildid   one ELF note: namesz=4, descsz=N, type=4, name "Go\0\0", then the ID
//                      ("aB3x.../cD4y.../eF5z.../gH6w...", slash-separated hashes).
//   .note.gnu.build-id one ELF note: name "GNU\0", type 3 (NT_GNU_BUILD_ID), descsz bytes of ID,
//                      printed as lower-case hex (what `file` and `readelf -n` show).
//   DW_AT_producer     of a Go compile unit: "Go cmd/compile go1.19.8; -N -l" for a build without
//                      optimisation, "Go cmd/compile go1.26.8; regabi" for a default one.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"

namespace kdbg::gobinary {

// What .go.buildinfo holds.
struct BuildInfo {
  std::string go_version;   // "go1.26.8"
  std::string module_path;  // "mod" line's path, else the "path" line's
  // "build" lines in order, key and unquoted value: {"-gcflags", "all=-N -l"}, {"GOARCH", "amd64"}.
  std::vector<std::pair<std::string, std::string>> settings;

  // The value of build setting `key` ("-gcflags"), or "" when absent.
  std::string Setting(absl::string_view key) const;
};

// Parses a .go.buildinfo section. nullopt when the magic is missing or the format is the pointer
// format of Go 1.13 to 1.17 (whose strings live elsewhere in the binary; the DWARF producer still
// names the version for those).
std::optional<BuildInfo> ParseGoBuildInfo(absl::string_view section);

// The Go build ID from a .note.go.buildid section; "" when the note is not Go's.
std::string ParseGoBuildIdNote(absl::string_view section);

// The GNU build ID from a .note.gnu.build-id section, as lower-case hex; "" when not that note.
std::string ParseGnuBuildIdNote(absl::string_view section);

// True when compiler flags ("all=-N -l", a producer's "; -N -l" tail) turn optimisation off.
bool FlagsDisableOptimization(absl::string_view flags);

// "go1.19.8" from "Go cmd/compile go1.19.8; -N -l"; "" when the producer is not Go's compiler.
std::string GoVersionFromProducer(absl::string_view producer);

// A Go release as `go version` names it: "go1.26.8", "go1.21rc2", "go1.20", "devel go1.27-abc".
struct GoVersion {
  int major = 0;
  int minor = 0;
  int patch = 0;  // 0 for "go1.20" and for pre-releases ("go1.21rc2")
};
// Accepts the forms above, with or without the "go" prefix ("1.20"). nullopt otherwise.
std::optional<GoVersion> ParseGoVersion(absl::string_view version);

// "go1.19.8" newer than "1.20"? Compares major.minor only (Delve's support is per minor version).
// False when either side does not parse.
bool GoVersionNewerThan(absl::string_view go_version, absl::string_view max_major_minor);

}  // namespace kdbg::gobinary
