#include "agent/gobinary/function_match.h"

#include "agent/gobinary/dwarf.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "re2/re2.h"

namespace kdbg::gobinary {
namespace {

bool Generated(const std::string& name) {
  return absl::StartsWith(name, "type:") || absl::StartsWith(name, "go:") ||
         absl::StartsWith(name, "type..") || absl::StartsWith(name, "go.") ||
         name.find_first_of(" \t") != std::string::npos;
}

}  // namespace

std::string FunctionPackage(const std::string& name) {
  // The path ends at the first '.' after the last '/' before any type parameters.
  size_t bracket = name.find('[');
  std::string head = name.substr(0, bracket);
  size_t slash = head.rfind('/');
  size_t dot = head.find('.', slash == std::string::npos ? 0 : slash + 1);
  return dot == std::string::npos ? head : head.substr(0, dot);
}

bool IsRuntimePackage(const std::string& package) {
  static const char* const kExact[] = {
      "runtime",           "sync/atomic",     "internal/abi",  "internal/bytealg",
      "internal/cpu",      "internal/goarch", "internal/goos", "internal/chacha8rand",
      "internal/godebugs", "internal/race"};
  for (const char* p : kExact) {
    if (package == p) return true;
  }
  return absl::StartsWith(package, "runtime/") || absl::StartsWith(package, "internal/runtime/");
}

absl::StatusOr<FunctionMatches> MatchFunctions(const GoBinary& binary, const FunctionQuery& query,
                                               const std::vector<std::string>& inlined_only) {
  RE2::Options options;
  options.set_log_errors(false);
  RE2 re(query.regexp, options);
  if (!re.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid regular expression \"", query.regexp, "\": ", re.error(),
                     " (Go's regexp syntax, as `dlv trace` takes it: e.g. ^main\\.handle)"));
  }
  if (binary.facts().stripped) {
    return absl::FailedPreconditionError(
        "the target's binary is stripped (built with -ldflags='-s -w'): it has no symbol table "
        "to list functions from; run `go tool nm` on the unstripped build of the same source, or "
        "rebuild without -s");
  }
  std::vector<FunctionSymbol> all;
  auto consider = [&](const FunctionSymbol& f) {
    if (Generated(f.name)) return;
    if (query.exclude_runtime && IsRuntimePackage(FunctionPackage(f.name))) return;
    if (!query.regexp.empty() && !RE2::PartialMatch(f.name, re)) return;
    all.push_back(f);
  };
  for (const FunctionSymbol& f : binary.Functions()) consider(f);
  for (const std::string& name : inlined_only) consider(FunctionSymbol{name, 0, 0});
  std::sort(all.begin(), all.end(), [](const FunctionSymbol& a, const FunctionSymbol& b) {
    return a.name != b.name ? a.name < b.name : a.address < b.address;
  });
  FunctionMatches m;
  m.total = static_cast<int64_t>(all.size());
  int64_t begin = std::min<int64_t>(std::max<int64_t>(query.offset, 0), m.total);
  int64_t end = query.limit > 0 ? std::min<int64_t>(begin + query.limit, m.total) : m.total;
  m.functions.assign(all.begin() + begin, all.begin() + end);
  return m;
}

std::vector<std::string> InlinedOnlyCache::For(const std::shared_ptr<const GoBinary>& binary) {
  const std::string& id = binary->facts().build_id;
  if (!id.empty()) {
    absl::MutexLock lock(&mu_);
    for (const auto& [build, names] : builds_) {
      if (build == id) return names;
    }
  }
  std::vector<std::string> names;
  if (!binary->facts().stripped) {
    auto dwarf = DwarfReader::On(binary);
    if (dwarf.ok()) names = (*dwarf)->InlinedOnlyFunctions();
  }
  if (!id.empty()) {
    absl::MutexLock lock(&mu_);
    builds_.emplace_back(id, names);
    if (builds_.size() > kMaxBuilds) builds_.pop_front();
  }
  return names;
}

}  // namespace kdbg::gobinary
