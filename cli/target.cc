#include "cli/target.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace kdbg::cli {
namespace {

bool ValidName(const std::string& name) {
  if (name.empty() || name.size() > 253) return false;
  for (char c : name) {
    if (!(absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '-' || c == '.')) return false;
  }
  return absl::ascii_isalnum(name.front()) && absl::ascii_isalnum(name.back());
}

}  // namespace

absl::StatusOr<std::string> ParseTarget(const std::string& target) {
  std::string name = target;
  auto slash = target.find('/');
  if (slash != std::string::npos) {
    std::string kind = absl::AsciiStrToLower(target.substr(0, slash));
    name = target.substr(slash + 1);
    if (kind != "pod" && kind != "pods" && kind != "po") {
      return absl::InvalidArgumentError(absl::StrCat(
          "target \"", target, "\": kdbg debugs pods; name one as pod/NAME or NAME (find it with ",
          "`kubectl get pods -l ...`)"));
    }
  }
  if (!ValidName(name)) {
    return absl::InvalidArgumentError(
        absl::StrCat("target \"", target, "\": \"", name, "\" is not a valid pod name"));
  }
  return name;
}

}  // namespace kdbg::cli
