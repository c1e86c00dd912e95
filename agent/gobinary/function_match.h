// The functions of a Go executable whose names match a regular expression: what `kdbg funcs` lists
// and what `kdbg trace TARGET REGEXP` arms. Part of the one Go-binary inspector (library
// kdbg_gobinary), over GoBinary::Functions() (the STT_FUNC entries of .symtab).
//
// The pattern is RE2 syntax, which is Go's regexp syntax (what `dlv trace REGEXP` takes), matched
// unanchored against the whole Go name as the symbol table spells it:
//   "main.handleSlash", "net/http.(*ServeMux).ServeHTTP", "main.(*Server).handle.func1",
//   "main.Map[go.shape.int]"
// Never listed: compiler-generated symbols that are no source function ("type:.eq.main.T",
// "go:buildid"; "type.." / "go." before Go 1.20) and names with a blank (some generic
// instantiations), which no trace-script location can spell.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "agent/gobinary/go_binary.h"

namespace kdbg::gobinary {

struct FunctionQuery {
  std::string regexp;  // "" matches every function
  int64_t offset = 0;  // skip this many matches (paging)
  int64_t limit = 0;   // at most this many in the answer; 0: all
  // Leave out the runtime's own packages (runtime, runtime/..., internal/runtime/..., the
  // runtime's internal/ dependencies, sync/atomic): tracing the scheduler or the allocator from a
  // pattern could stall the service, so quick trace asks for this; a script may still name them.
  bool exclude_runtime = false;
};

struct FunctionMatches {
  std::vector<FunctionSymbol> functions;  // sorted by name, [offset, offset + limit)
  int64_t total = 0;                      // every match, before offset and limit
};

// `inlined_only`: the functions the compiler inlined at every call (DwarfReader::
// InlinedOnlyFunctions), which the symbol table does not hold and a trace script can still name
// (as `dlv funcs` lists them): matched the same way, listed with address and size 0.
// Errors: InvalidArgument "invalid regular expression \"(\": missing ): (" (RE2's words);
// FailedPrecondition when the binary is stripped (no symbol table to list).
absl::StatusOr<FunctionMatches> MatchFunctions(const GoBinary& binary, const FunctionQuery& query,
                                               const std::vector<std::string>& inlined_only = {});

// The functions inlined at every call (DwarfReader::InlinedOnlyFunctions) of the binaries listed
// before, by Go build ID: the DWARF open and walk (50 ms on the values target, 125 ms on Delve's
// 23 MB binary; the symbol table alone takes 2-6 ms) once per build instead of once per listing
// (`kdbg funcs`, then a quick trace of the same service). Empty for a binary without DWARF.
// Thread-safe; remembers the last kMaxBuilds builds (a binary without a build ID: never).
class InlinedOnlyCache {
 public:
  static constexpr size_t kMaxBuilds = 8;
  std::vector<std::string> For(const std::shared_ptr<const GoBinary>& binary);

 private:
  absl::Mutex mu_;
  std::deque<std::pair<std::string, std::vector<std::string>>> builds_ ABSL_GUARDED_BY(mu_);
};

// The package path of a Go function name, as the symbol table spells it: "net/http" for
// "net/http.(*conn).serve", "main" for "main.main.func1" and "main.Map[go.shape.int]".
std::string FunctionPackage(const std::string& name);

// True for the runtime's own packages (see FunctionQuery::exclude_runtime).
bool IsRuntimePackage(const std::string& package);

}  // namespace kdbg::gobinary
