#include "kube/names.h"

#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace kdbg::kube {
namespace {

bool Dns1123(absl::string_view name, size_t max, bool dots) {
  if (name.empty() || name.size() > max) return false;
  for (char c : name) {
    if (!(absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '-' || (dots && c == '.'))) {
      return false;
    }
  }
  return absl::ascii_isalnum(name.front()) && absl::ascii_isalnum(name.back());
}

}  // namespace

bool IsDns1123Label(absl::string_view name) { return Dns1123(name, 63, false); }
bool IsDns1123Subdomain(absl::string_view name) { return Dns1123(name, 253, true); }

absl::Status ValidateObjectName(absl::string_view what, absl::string_view name) {
  const bool pod = what == "pod";
  if (what == "container" && name.empty()) return absl::OkStatus();
  if (pod ? IsDns1123Subdomain(name) : IsDns1123Label(name)) return absl::OkStatus();
  // Quote at most 80 bytes of what was sent: the name may be anything, of any size.
  std::string shown = absl::CHexEscape(name.substr(0, 80));
  if (name.size() > 80) absl::StrAppend(&shown, "...");
  return absl::InvalidArgumentError(
      absl::StrCat(what, " \"", shown, "\" is not a valid Kubernetes name (",
                   pod ? "at most 253 of a-z, 0-9, '-' and '.'" : "at most 63 of a-z, 0-9 and '-'",
                   ", beginning and ending with a letter or digit)"));
}

}  // namespace kdbg::kube
