#include "agent/resolver/target_json.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace kdbg::agent {

nlohmann::json ResolvedTargetToJson(const kdbg::v1::ResolvedTarget& t) {
  nlohmann::json j;
  j["host_pid"] = t.host_pid();
  j["container_id"] = t.container_id();
  j["runtime"] = t.runtime();
  j["evidence"] = std::vector<std::string>(t.evidence().begin(), t.evidence().end());
  const kdbg::v1::BinaryInfo& b = t.binary();
  j["binary"] = {
      {"path", b.path()},         {"go_version", b.go_version()}, {"module_path", b.module_path()},
      {"build_id", b.build_id()}, {"has_dwarf", b.has_dwarf()},   {"optimized", b.optimized()},
      {"stripped", b.stripped()}};
  j["debuggable"] = t.debuggable();
  j["problem"] = t.problem();
  j["delve_version"] = t.delve_version();
  j["supported_go"] = t.supported_go();
  j["go_supported"] = t.go_supported();
  j["start_time_ticks"] = t.start_time_ticks();
  j["cmdline"] = std::vector<std::string>(t.cmdline().begin(), t.cmdline().end());
  j["node_name"] = t.node_name();
  j["container_pid"] = t.container_pid_namespace_pid();
  return j;
}

nlohmann::json ResolveErrorToJson(const absl::Status& status) {
  std::string code = absl::StatusCodeToString(status.code());
  code = absl::AsciiStrToUpper(code);
  for (char& c : code) {
    if (c == ' ') c = '_';
  }
  return {{"error", {{"code", code}, {"message", std::string(status.message())}}}};
}

std::string ResolvedTargetToText(const kdbg::v1::ResolvedTarget& t) {
  const kdbg::v1::BinaryInfo& b = t.binary();
  std::string s = absl::StrCat("pid ", t.host_pid(), " (", t.container_pid_namespace_pid(),
                               " in its container)  ", absl::StrJoin(t.cmdline(), " "), "\n");
  absl::StrAppend(&s, "container ", t.container_id().empty() ? "-" : t.container_id(), "  runtime ",
                  t.runtime(), "\n");
  absl::StrAppend(&s, "binary ", b.path(), "  ", b.go_version().empty() ? "not Go" : b.go_version(),
                  b.module_path().empty() ? "" : "  " + b.module_path(),
                  "  dwarf=", b.has_dwarf() ? "yes" : "no",
                  " optimized=", b.optimized() ? "yes" : "no",
                  " stripped=", b.stripped() ? "yes" : "no", "\n");
  if (!t.supported_go().empty()) {
    absl::StrAppend(&s, "delve ", t.delve_version(), "  bundled Delve supports ", t.supported_go(),
                    "  go supported=", t.go_supported() ? "yes" : "no", "\n");
  }
  absl::StrAppend(&s, t.debuggable() ? "debuggable: yes\n"
                                     : absl::StrCat("debuggable: no: ", t.problem(), "\n"));
  absl::StrAppend(&s, "evidence:\n");
  for (const std::string& e : t.evidence()) absl::StrAppend(&s, "  - ", e, "\n");
  return s;
}

}  // namespace kdbg::agent
