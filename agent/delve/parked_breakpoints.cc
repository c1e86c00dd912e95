#include "agent/delve/parked_breakpoints.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "agent/delve/json_access.h"
#include "common/status.h"

namespace kdbg::delve {
namespace {

using json = nlohmann::json;

constexpr size_t kNamedInMessages = 5;

std::string Describe(const json& bp) {
  std::string out = absl::StrCat(jsonx::Int(bp, "id"));
  if (std::string name = jsonx::Str(bp, "name"); !name.empty()) {
    absl::StrAppend(&out, " \"", name, "\"");
  }
  const std::string path = jsonx::Str(bp, "file");
  absl::string_view file = path;
  file.remove_prefix(std::min(file.size(), file.rfind('/') + 1));  // npos + 1 == 0: kept whole
  const std::string where = absl::StrCat(file, ":", jsonx::Int(bp, "line"));
  const std::string function = jsonx::Str(bp, "functionName");
  if (!jsonx::Str(bp, "WatchExpr").empty()) {
    absl::StrAppend(&out, " (watch ", jsonx::Str(bp, "WatchExpr"), ")");
  } else if (!function.empty()) {
    absl::StrAppend(&out, " at ", function, " (", where, ")");
  } else {
    absl::StrAppend(&out, " at ", where);
  }
  return out;
}

// `bp` as listed, enabled or disabled: AmendBreakpoint replaces every setting with the one sent.
absl::Status SetDisabled(DelveClient& delve, json bp, bool disabled, absl::Duration timeout) {
  bp["disabled"] = disabled;
  return delve.Call("RPCServer.AmendBreakpoint", {{"Breakpoint", std::move(bp)}}, timeout).status();
}

}  // namespace

absl::StatusOr<ParkedBreakpoints> DisableClientBreakpoints(DelveClient& delve,
                                                           absl::Duration timeout) {
  KDBG_ASSIGN_OR_RETURN(json list, delve.ListLogicalBreakpoints(timeout));
  ParkedBreakpoints out;
  for (const json& bp : list) {
    if (jsonx::Int(bp, "id") <= 0 || jsonx::Bool(bp, "disabled")) continue;
    if (!jsonx::Str(bp, "WatchExpr").empty()) {
      out.kept.push_back(absl::StrCat(Describe(bp), ": Delve cannot disable a watchpoint"));
      continue;
    }
    if (absl::Status s = SetDisabled(delve, bp, true, timeout); !s.ok()) {
      out.kept.push_back(absl::StrCat(Describe(bp), ": ", s.message()));
      continue;
    }
    out.disabled.push_back(bp);
  }
  return out;
}

std::vector<std::string> EnableAgain(DelveClient& delve, const std::vector<json>& disabled,
                                     absl::Duration timeout) {
  std::vector<std::string> problems;
  for (const json& bp : disabled) {
    if (absl::Status s = SetDisabled(delve, bp, false, timeout); !s.ok()) {
      problems.push_back(absl::StrCat(Describe(bp), ": ", s.message()));
    }
  }
  return problems;
}

std::string DescribeBreakpoints(const std::vector<json>& breakpoints) {
  std::vector<std::string> parts;
  for (size_t i = 0; i < breakpoints.size() && i < kNamedInMessages; ++i) {
    parts.push_back(Describe(breakpoints[i]));
  }
  if (breakpoints.size() > kNamedInMessages) {
    parts.push_back(absl::StrCat("and ", breakpoints.size() - kNamedInMessages, " more"));
  }
  return absl::StrJoin(parts, ", ");
}

}  // namespace kdbg::delve
