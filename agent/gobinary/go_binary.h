// kdbg's one reader of Go executables (library kdbg_gobinary, on elfutils' libelf and libdw): what
// a program is (Go or not, which Go, how it was built, whether it can be debugged) and where its
// functions are. The resolver (agent/resolver) is its only caller for a live target; engines take
// the resolver's answer instead of reading the binary again. DWARF queries (types, variables,
// locations) live beside it in agent/gobinary/dwarf*.{h,cc}, on GoBinary::dwarf().
//
// Callers pass /proc/PID/exe for a live process (the kernel resolves it across mount namespaces,
// even after the file was replaced or deleted), or any path to an executable.
//
// Sources, all in the ELF file (formats quoted in build_info.h):
//   .go.buildinfo       Go version, main module path, build settings (-gcflags, -ldflags, ...)
//   .gopclntab          present in every Go binary, even stripped ones
//   .note.go.buildid    the Go build ID;  .note.gnu.build-id  the GNU build ID (hex)
//   .debug_info / .zdebug_info  DWARF; the main package's DW_AT_producer names the compiler
//                       version and flags ("Go cmd/compile go1.19.8; -N -l"). Read only when the
//                       sections above cannot answer (Go < 1.18, or no `go build` settings): Go
//                       compresses its DWARF (SHF_COMPRESSED, zlib) and libdw inflates every
//                       debug section when it opens them, about 20 ms for a 8 MB program, the
//                       larger part of a container's resolution.
//   .symtab             absent when stripped (-ldflags=-s, strip); its STT_FUNC entries are the
//                       functions (Go names: "main.main", "net/http.(*conn).serve",
//                       "main.(*Server).handle.func1")
//   PT_LOAD segments    map a function's virtual address to its offset in the file (uprobes)
//
//   auto bin = kdbg::gobinary::GoBinary::Open("/proc/4242/exe");
//   if (!bin.ok()) return bin.status();
//   if (!(*bin)->facts().is_go) ...;
//   KDBG_ASSIGN_OR_RETURN(FunctionSymbol f, (*bin)->FindFunction("main.handler"));
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

// elfutils' handles, declared here so users of this header need not include libelf or libdw.
struct Elf;
struct Dwarf;

namespace kdbg::gobinary {

// What the ELF file says about the program. Everything is read when the file is opened.
struct GoBinaryFacts {
  bool is_go = false;       // .go.buildinfo, .gopclntab or a runtime.main symbol
  std::string go_version;   // "go1.26.8"; "" for non-Go programs (and Go < 1.18 without DWARF)
  std::string module_path;  // "example.com/hello"
  // Build settings as `go version -m` prints them, unquoted: {"-gcflags", "all=-N -l"}, ...
  std::vector<std::pair<std::string, std::string>> build_settings;
  std::string build_id;      // Go build ID (.note.go.buildid); "" when absent
  std::string gnu_build_id;  // lower-case hex (.note.gnu.build-id); "" when absent
  bool has_dwarf = false;    // .debug_info or .zdebug_info
  // False when built with -N: the "-gcflags" build setting says so; without `go build` settings
  // (no "-compiler" setting: Go < 1.18, other build systems) the DWARF producer does.
  bool optimized = true;
  bool stripped = false;  // no .symtab
};

// One function in the symbol table.
struct FunctionSymbol {
  std::string name;      // "main.handler", "net/http.(*ServeMux).ServeHTTP"
  uint64_t address = 0;  // virtual address of the entry (st_value)
  uint64_t size = 0;     // bytes (st_size)
};

// An opened executable. Thread-safe: all methods are const and may be called concurrently (the
// symbol table and DWARF handle are loaded once, on first use).
class GoBinary {
 public:
  // Opens and reads the facts of the ELF file at `path`. Errors: NotFound / PermissionDenied when
  // the file cannot be opened, InvalidArgument when it is not an ELF file.
  static absl::StatusOr<std::unique_ptr<GoBinary>> Open(const std::string& path);
  ~GoBinary();
  GoBinary(const GoBinary&) = delete;
  GoBinary& operator=(const GoBinary&) = delete;

  const std::string& path() const { return path_; }
  const GoBinaryFacts& facts() const { return facts_; }

  // Every STT_FUNC symbol with a name and a non-zero address, sorted by address. Empty when
  // stripped.
  const std::vector<FunctionSymbol>& Functions() const;
  // Calls `fn` for each function whose name starts with `prefix` ("" for all), in address order,
  // until `fn` returns false.
  void ForEachFunction(absl::string_view prefix,
                       const std::function<bool(const FunctionSymbol&)>& fn) const;
  // The function named exactly `name`. NotFound naming the function (and, when stripped,
  // FailedPrecondition: there is no symbol table to look in).
  absl::StatusOr<FunctionSymbol> FindFunction(absl::string_view name) const;
  // The function whose [address, address + size) holds `pc`. NotFound otherwise.
  absl::StatusOr<FunctionSymbol> FunctionAt(uint64_t pc) const;
  // The offset in the file of virtual address `address` (through the PT_LOAD segment holding it),
  // as uprobes want it. NotFound when no loaded segment holds the address.
  absl::StatusOr<uint64_t> FileOffset(uint64_t address) const;
  // As FileOffset, for an executable segment only (where a uprobe may go); OutOfRange otherwise.
  absl::StatusOr<uint64_t> CodeFileOffset(uint64_t address) const;
  // Up to `n` bytes of the file at virtual address `address` of an executable segment.
  absl::StatusOr<std::string> CodeBytes(uint64_t address, size_t n) const;
  // True for a position-independent executable (ET_DYN): its addresses move by the load bias.
  bool IsPie() const;
  // The ELF header's entry point (e_entry), as linked: a running PIE's load bias is the entry
  // the kernel reports (AT_ENTRY, common/proc_reader.h) minus this.
  uint64_t EntryAddress() const;
  // Every symbol that is not a function (STT_OBJECT and others) whose name starts with `prefix`,
  // read from .symtab on each call: "go:itab.*main.Order,main.Describer" at the itab's address.
  std::vector<FunctionSymbol> DataSymbols(absl::string_view prefix) const;

  // elfutils' handles, for the readers in this library (dwarf*.cc). elf() is never null; dwarf()
  // is null when the binary has no DWARF. Both live as long as this object. libdw queries on
  // dwarf() are not thread-safe: one DwarfReader at a time per GoBinary.
  ::Elf* elf() const { return elf_; }
  ::Dwarf* dwarf() const;
  // Why dwarf() is null in a binary that has DWARF sections, else "": libdw refused them, or a
  // string section (.debug_str, .debug_line_str) does not end in a NUL byte. libdw hands out
  // pointers into those sections without checking that the string ends inside them, so such a
  // binary's DWARF is not used at all.
  const std::string& dwarf_problem() const;
  // DW_AT_producer of the main package's compile unit (else the first unit's that has one), read
  // on first use (it loads the DWARF); "" without DWARF.
  const std::string& Producer() const;

 private:
  GoBinary(std::string path, int fd, ::Elf* elf);
  absl::Status ReadFacts();
  void LoadFunctions() const;

  std::string path_;
  int fd_ = -1;
  ::Elf* elf_ = nullptr;
  GoBinaryFacts facts_;
  mutable std::once_flag functions_once_;
  mutable std::vector<FunctionSymbol> functions_;
  mutable std::once_flag dwarf_once_;
  mutable ::Dwarf* dwarf_ = nullptr;
  mutable std::string dwarf_problem_;
  mutable std::once_flag producer_once_;
  mutable std::string producer_;
};

// Just the facts of the file at `path` (opens, reads, closes). Errors as GoBinary::Open.
absl::StatusOr<GoBinaryFacts> InspectGoBinary(const std::string& path);

// The inspector as an injectable dependency, so the resolver's tests can describe binaries
// without building them (agent/gobinary/testing/fake_inspector.h).
class Inspector {
 public:
  virtual ~Inspector() = default;
  // Errors as GoBinary::Open. Thread-safe.
  virtual absl::StatusOr<GoBinaryFacts> Inspect(const std::string& path) = 0;
};

// The real one: InspectGoBinary.
std::unique_ptr<Inspector> NewElfInspector();

}  // namespace kdbg::gobinary
