// Facts about a program's executable, read from its ELF file (never from inside the container:
// callers pass /proc/PID/exe, which the kernel resolves across mount namespaces).
//
// Sources, all in the ELF file:
//   .go.buildinfo     Go 1.18+: "\xff Go buildinf:" magic, ptr size, flags (bit 1: inline
//                     strings), then varint-prefixed version ("go1.19.8") and module info:
//                       path\texample.com/hello\n mod\texample.com/hello\t(devel)\t\n
//                       build\t-gcflags="all=-N -l"\n ...
//   .note.go.buildid  note "Go\0\0" type 4: the Go build ID
//   .debug_info / .zdebug_info   DWARF; compile units' DW_AT_producer says
//                     "Go cmd/compile go1.19.8; -N -l" for builds without optimisation
//   .symtab           absent when stripped (-ldflags=-s)
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "kdbg/v1/types.pb.h"

namespace kdbg::agent {

class BinaryReader {
 public:
  virtual ~BinaryReader() = default;
  // Reads the facts of the ELF file at `path`. `go_version` stays empty for non-Go programs.
  // NotFound / PermissionDenied when the file cannot be opened, InvalidArgument when it is not
  // ELF. `path` in the result is left to the caller. Thread-safe.
  virtual absl::StatusOr<kdbg::v1::BinaryInfo> Read(const std::string& path) = 0;
};

// The real reader, using elfutils (libelf, libdw).
std::unique_ptr<BinaryReader> NewElfBinaryReader();

// Parses the bytes of a .go.buildinfo section (Go 1.18+ inline format). Returns false when the
// format is not recognised. Pure; exposed for tests.
bool ParseGoBuildInfo(absl::string_view section, std::string* go_version, std::string* module_path,
                      std::string* gcflags);

// "go1.19.8" > "1.20"? Compares major.minor only (Delve's support is per minor version).
bool GoVersionNewerThan(absl::string_view go_version, absl::string_view max_major_minor);

}  // namespace kdbg::agent
