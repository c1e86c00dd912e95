#include "cli/sessions_view.h"

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "cli/command_util.h"
#include "cli/output.h"
#include "nlohmann/json.hpp"
#include "proto/words.h"
#include "yaml-cpp/yaml.h"

namespace kdbg::cli {

using kdbg::v1::Word;

absl::StatusOr<SessionsFormat> ParseSessionsFormat(const std::string& text) {
  if (text.empty() || text == "text") return SessionsFormat::kTable;
  if (text == "wide") return SessionsFormat::kWide;
  if (text == "json") return SessionsFormat::kJson;
  if (text == "yaml") return SessionsFormat::kYaml;
  return absl::InvalidArgumentError(
      absl::StrCat("-o \"", text, "\": use wide, json or yaml (or leave it out for the table)"));
}

std::string AgeText(int64_t start, int64_t now) {
  if (start == 0 || now < start) return "-";
  int64_t s = (now - start) / 1000000000;
  if (s < 120) return absl::StrCat(s, "s");
  if (s < 7200) return absl::StrCat(s / 60, "m", s % 60, "s");
  return absl::StrCat(s / 3600, "h", (s % 3600) / 60, "m");
}

std::string SessionsTable(const kdbg::v1::ControllerListSessionsResponse& sessions,
                          int64_t now_unix_nanos, bool wide, bool headers) {
  if (sessions.sessions().empty()) return "";
  std::vector<std::vector<std::string>> rows;
  if (headers) {
    if (wide) {
      rows.push_back({"SESSION", "MODE", "NAMESPACE", "POD", "CONTAINER", "NODE", "PID", "USER",
                      "STATE", "HITS", "AGE", "LEASE"});
    } else {
      rows.push_back({"SESSION", "MODE", "NAMESPACE", "POD", "STATE", "HITS", "AGE"});
    }
  }
  for (const auto& s : sessions.sessions()) {
    const auto& i = s.info();
    std::string lease =
        i.lease_expiry_unix_nanos() == 0
            ? "-"
            : AgeText(now_unix_nanos, std::max(i.lease_expiry_unix_nanos(), now_unix_nanos));
    if (wide) {
      rows.push_back({i.id(), Word(i.mode()), s.target().namespace_(), s.target().pod(),
                      s.target().container(), s.node_name().empty() ? i.node_name() : s.node_name(),
                      absl::StrCat(i.host_pid()), i.user(), Word(i.state()), absl::StrCat(i.hits()),
                      AgeText(i.start_unix_nanos(), now_unix_nanos), lease});
    } else {
      rows.push_back({i.id(), Word(i.mode()), s.target().namespace_(), s.target().pod(),
                      Word(i.state()), absl::StrCat(i.hits()),
                      AgeText(i.start_unix_nanos(), now_unix_nanos)});
    }
  }
  std::vector<size_t> widths(rows[0].size(), 0);
  for (const auto& row : rows) {
    for (size_t c = 0; c < row.size(); ++c) widths[c] = std::max(widths[c], row[c].size());
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (size_t c = 0; c < row.size(); ++c) {
      absl::StrAppend(&line, row[c]);
      if (c + 1 < row.size()) line.append(widths[c] - row[c].size() + 3, ' ');
    }
    absl::StrAppend(&out, line, "\n");
  }
  return out;
}

namespace {

void EmitJson(YAML::Emitter& y, const nlohmann::ordered_json& j) {
  if (j.is_object()) {
    y << YAML::BeginMap;
    for (auto it = j.begin(); it != j.end(); ++it) {
      y << YAML::Key << it.key() << YAML::Value;
      EmitJson(y, it.value());
    }
    y << YAML::EndMap;
  } else if (j.is_array()) {
    y << YAML::BeginSeq;
    for (const auto& e : j) EmitJson(y, e);
    y << YAML::EndSeq;
  } else if (j.is_string()) {
    y << YAML::DoubleQuoted << j.get<std::string>();
  } else if (j.is_boolean()) {
    y << j.get<bool>();
  } else if (j.is_number_integer()) {
    y << j.get<int64_t>();
  } else if (j.is_number()) {
    y << j.get<double>();
  } else {
    y << YAML::Null;
  }
}

}  // namespace

std::string SessionsYaml(const kdbg::v1::ControllerListSessionsResponse& sessions) {
  if (sessions.sessions().empty()) return "[]\n";
  // The same objects as -o json, in the same order: one place decides the fields.
  std::string lines = SessionsJson(sessions);
  try {
    YAML::Emitter y;
    y << YAML::BeginSeq;
    size_t start = 0;
    while (start < lines.size()) {
      size_t nl = lines.find('\n', start);
      if (nl == std::string::npos) nl = lines.size();
      nlohmann::ordered_json j = nlohmann::ordered_json::parse(lines.substr(start, nl - start),
                                                               nullptr, /*allow_exceptions=*/false);
      if (!j.is_discarded()) EmitJson(y, j);
      start = nl + 1;
    }
    y << YAML::EndSeq;
    return absl::StrCat(y.c_str(), "\n");
  } catch (const std::exception& e) {  // yaml-cpp throws; nothing crosses this module
    return absl::StrCat("# cannot write YAML: ", e.what(), "\n");
  }
}

std::string NoSessionsMessage(const std::string& ns) {
  if (ns.empty()) return "No debug sessions found.\n";
  return absl::StrCat("No debug sessions found in ", ns, " namespace.\n");
}

}  // namespace kdbg::cli

namespace kdbg::cli::internal {

void PrintSessions(const kdbg::v1::ControllerListSessionsResponse& sessions,
                   const SessionsCommandOptions& o, const std::string& ns, int64_t now_unix_nanos,
                   Console& console) {
  SessionsFormat f = ParseSessionsFormat(o.output).value_or(SessionsFormat::kTable);
  if (sessions.sessions().empty() && f != SessionsFormat::kJson) {
    console.Err(NoSessionsMessage(ns));
  }
  switch (f) {
    case SessionsFormat::kJson:
      console.Out(SessionsJson(sessions));
      return;
    case SessionsFormat::kYaml:
      console.Out(SessionsYaml(sessions));
      return;
    case SessionsFormat::kTable:
    case SessionsFormat::kWide:
      console.Out(
          SessionsTable(sessions, now_unix_nanos, f == SessionsFormat::kWide, !o.no_headers));
      return;
  }
}

}  // namespace kdbg::cli::internal
