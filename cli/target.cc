#include "cli/target.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "kube/names.h"

namespace kdbg::cli {

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
  if (!kube::IsDns1123Subdomain(name)) {
    return absl::InvalidArgumentError(
        absl::StrCat("target \"", target, "\": \"", name, "\" is not a valid pod name"));
  }
  return name;
}

}  // namespace kdbg::cli
