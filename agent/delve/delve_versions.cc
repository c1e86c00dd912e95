#include "agent/delve/delve_versions.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/child_process.h"

namespace kdbg::delve {
namespace {

// major.minor of a dotted version ("1.27.2" -> 1, 27).
bool MajorMinor(absl::string_view v, int* major, int* minor) {
  std::vector<absl::string_view> parts = absl::StrSplit(v, '.');
  if (parts.size() < 2) return false;
  absl::string_view m = parts[1];
  size_t digits = 0;
  while (digits < m.size() && absl::ascii_isdigit(static_cast<unsigned char>(m[digits]))) ++digits;
  return absl::SimpleAtoi(parts[0], major) && digits > 0 &&
         absl::SimpleAtoi(m.substr(0, digits), minor);
}

}  // namespace

std::string GoRange::ToString() const { return absl::StrCat("Go 1.", min_minor, "-1.", max_minor); }

std::optional<GoRange> SupportedGoOf(absl::string_view delve_version) {
  int major = 0, minor = 0;
  if (!MajorMinor(delve_version, &major, &minor) || major != 1) return std::nullopt;
  switch (minor) {
    case 20:
      return GoRange{18, 20};
    case 21:
      return GoRange{19, 21};
    case 22:
      return GoRange{20, 22};
    case 23:
      return GoRange{21, 23};
    case 24:
      return GoRange{21, 24};
    case 25:
      return GoRange{22, 25};
    case 26:
      return GoRange{24, 26};
    case 27:
      return GoRange{25, 27};
    default:
      return std::nullopt;
  }
}

std::optional<int> GoMinor(absl::string_view go_version) {
  if (!absl::ConsumePrefix(&go_version, "go")) return std::nullopt;
  int major = 0, minor = 0;
  if (!MajorMinor(go_version, &major, &minor) || major != 1) return std::nullopt;
  return minor;
}

std::string ParseDelveVersion(absl::string_view output) {
  for (absl::string_view line : absl::StrSplit(output, '\n')) {
    if (absl::ConsumePrefix(&line, "Version: ")) {
      return std::string(absl::StripAsciiWhitespace(line));
    }
  }
  return "";
}

absl::StatusOr<DelveBinary> ProbeDelve(const std::string& path) {
  // Delve's main starts Go telemetry and its config loader before any command: with a config
  // home under /dev/null nothing can be created (no counters, no crash-monitor child, no default
  // config.yml in the agent's $HOME), and `dlv version` still answers (delve_home.h).
  absl::StatusOr<std::string> out =
      RunCommand({path, "version"}, absl::Seconds(10), /*merge_stderr=*/true,
                 {"XDG_CONFIG_HOME=/dev/null", "GOTELEMETRY=off"});
  if (!out.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot run Delve (", path, " version): ", out.status().message()));
  }
  DelveBinary d;
  d.path = path;
  d.version = ParseDelveVersion(*out);
  std::optional<GoRange> range = SupportedGoOf(d.version);
  if (!range.has_value()) {
    return absl::FailedPreconditionError(
        absl::StrCat("Delve at ", path, " reports version \"", d.version,
                     "\", whose supported Go range kdbg does not know: use the Delve builds of "
                     "scripts/delve (tools/delve/)"));
  }
  d.go = *range;
  return d;
}

std::vector<DelveBinary> ProbeDelves(absl::string_view dlv_list,
                                     std::vector<std::string>* problems) {
  std::vector<DelveBinary> out;
  for (absl::string_view path : absl::StrSplit(dlv_list, ',', absl::SkipWhitespace())) {
    absl::StatusOr<DelveBinary> d = ProbeDelve(std::string(absl::StripAsciiWhitespace(path)));
    if (d.ok()) {
      out.push_back(*std::move(d));
    } else if (problems != nullptr) {
      problems->push_back(std::string(d.status().message()));
    }
  }
  return out;
}

std::function<agent::GoVersionCheck(const std::string& go_version)> NewGoVersionCheck(
    std::vector<DelveBinary> delves) {
  return [delves = std::move(delves)](const std::string& go_version) {
    GoSupport s = CheckGoSupport(delves, go_version);
    agent::GoVersionCheck c;
    c.supported = s.supported;
    c.delve_version = s.delve != nullptr ? s.delve->version : "";
    c.supported_go = s.range;
    c.problem = s.message;
    return c;
  };
}

GoSupport CheckGoSupport(const std::vector<DelveBinary>& delves, absl::string_view go_version) {
  GoSupport s;
  if (delves.empty()) {
    s.message = "no Delve is configured (--dlv)";
    return s;
  }
  std::vector<const DelveBinary*> sorted;
  sorted.reserve(delves.size());
  for (const DelveBinary& d : delves) sorted.push_back(&d);
  std::sort(sorted.begin(), sorted.end(), [](const DelveBinary* a, const DelveBinary* b) {
    return a->go.max_minor < b->go.max_minor;
  });
  GoRange all{sorted.front()->go.min_minor, sorted.back()->go.max_minor};
  for (const DelveBinary* d : sorted) all.min_minor = std::min(all.min_minor, d->go.min_minor);
  std::vector<std::string> each;
  each.reserve(sorted.size());
  for (const DelveBinary* d : sorted) {
    each.push_back(absl::StrCat("Delve ", d->version, ": ", d->go.ToString()));
  }
  s.range = absl::StrCat(all.ToString(), " (", absl::StrJoin(each, ", "), ")");
  std::optional<int> minor = GoMinor(go_version);
  if (!minor.has_value()) {  // unknown (devel build): the newest Delve, no claim either way
    s.delve = sorted.back();
    s.supported = true;
    return s;
  }
  for (auto it = sorted.rbegin(); it != sorted.rend(); ++it) {
    if ((*it)->go.Contains(*minor)) {
      s.delve = *it;
      s.supported = true;
      return s;
    }
  }
  // Outside every range: the nearest Delve if the user insists.
  s.delve = *minor < all.min_minor ? sorted.front() : sorted.back();
  for (const DelveBinary* d : sorted) {
    if (*minor < all.min_minor && d->go.min_minor < s.delve->go.min_minor) s.delve = d;
  }
  s.message = absl::StrCat(
      "the program was built with ", go_version, ", outside the bundled Delve's supported range ",
      s.range, ": ",
      *minor < all.min_minor ? "rebuild the service with a supported Go"
                             : "upgrade kdbg's agent to one bundling a newer Delve (tools/delve/)",
      ", or pass --allow-unsupported-go to try anyway with Delve ", s.delve->version,
      " (undefined behaviour: values may be missing or wrong)");
  return s;
}

}  // namespace kdbg::delve
