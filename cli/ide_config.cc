#include "cli/ide_config.h"

#include <sys/stat.h>

#include <cctype>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "cli/command_util.h"
#include "cli/commands.h"
#include "nlohmann/json.hpp"

namespace kdbg::cli {

namespace {

using Json = nlohmann::ordered_json;

std::string Dump(const Json& j, int indent) {
  return j.dump(indent, ' ', false, Json::error_handler_t::replace);
}

std::string XmlEscape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

absl::StatusOr<std::string> ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::string();
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

absl::Status WriteText(const std::string& path, const std::string& text) {
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  if (ec) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot create the directory of ", path, ": ", ec.message()));
  }
  std::string tmp = path + ".kdbg-tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out) return absl::PermissionDeniedError(absl::StrCat("cannot write ", path));
  }
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::filesystem::remove(tmp, ec);
    return absl::PermissionDeniedError(absl::StrCat("cannot write ", path));
  }
  return absl::OkStatus();
}

}  // namespace

std::optional<SourceMapping> FindSourceMapping(
    const std::string& remote_main_file, const std::string& local_dir,
    const std::function<bool(const std::string&)>& exists) {
  std::vector<std::string> parts = absl::StrSplit(remote_main_file, '/', absl::SkipEmpty());
  std::string local = std::string(absl::StripSuffix(local_dir, "/"));
  // The longest tail that exists locally names the checkout's counterpart of the build root.
  for (size_t first = 0; first < parts.size(); ++first) {
    std::string tail;
    for (size_t i = first; i < parts.size(); ++i) absl::StrAppend(&tail, "/", parts[i]);
    if (!exists(local + tail)) continue;
    std::string remote = remote_main_file.substr(0, remote_main_file.size() - tail.size());
    if (remote.empty()) remote = "/";
    if (remote == local) return std::nullopt;
    return SourceMapping{local, remote};
  }
  return std::nullopt;
}

std::string VsCodeConfiguration(const std::string& name, const std::string& host, int port,
                                const std::optional<SourceMapping>& mapping) {
  Json j;
  j["name"] = name;
  j["type"] = "go";
  j["request"] = "attach";
  j["mode"] = "remote";
  j["host"] = host;
  j["port"] = port;
  if (mapping) {
    Json m;
    m["from"] = mapping->local;
    m["to"] = mapping->remote;
    j["substitutePath"] = Json::array({m});
  }
  return Dump(j, 2);
}

absl::StatusOr<std::string> MergeLaunchJson(const std::string& existing, const std::string& name,
                                            const std::string& configuration_json) {
  Json doc = Json::object();
  if (!absl::StripAsciiWhitespace(existing).empty()) {
    doc = Json::parse(existing, nullptr, /*allow_exceptions=*/false, /*ignore_comments=*/true);
    if (doc.is_discarded() || !doc.is_object()) {
      return absl::InvalidArgumentError(
          "is not a JSON object VS Code could read; fix it or move it away (nothing was written)");
    }
  }
  Json config = Json::parse(configuration_json, nullptr, false);
  if (!doc.contains("version")) doc["version"] = "0.2.0";
  if (!doc.contains("configurations")) doc["configurations"] = Json::array();
  Json& list = doc["configurations"];
  if (!list.is_array()) {
    return absl::InvalidArgumentError("has a \"configurations\" that is not a list");
  }
  bool replaced = false;
  for (Json& c : list) {
    if (c.is_object() && c.value("name", "") == name) {
      c = config;
      replaced = true;
    }
  }
  if (!replaced) list.push_back(config);
  return Dump(doc, 2) + "\n";
}

std::string GoLandRunConfiguration(const std::string& name, const std::string& host, int port) {
  return absl::StrCat(
      "<component name=\"ProjectRunConfigurationManager\">\n"
      "  <configuration default=\"false\" name=\"",
      XmlEscape(name),
      "\" type=\"GoRemoteDebugConfigurationType\" factoryName=\"Go Remote\">\n"
      "    <option name=\"host\" value=\"",
      XmlEscape(host),
      "\" />\n"
      "    <option name=\"port\" value=\"",
      port,
      "\" />\n"
      "    <disconnect value=\"LEAVE\" />\n"
      "    <method v=\"2\" />\n"
      "  </configuration>\n"
      "</component>\n");
}

std::string GoLandFileName(const std::string& pod_ref) {
  std::string out = "kdbg_";
  for (char c : pod_ref) out.push_back(std::isalnum(static_cast<unsigned char>(c)) ? c : '_');
  return out + ".xml";
}

absl::StatusOr<std::string> WriteIdeFiles(const IdeFiles& files, const std::string& pod_ref,
                                          const std::string& host, int port,
                                          const std::optional<SourceMapping>& mapping) {
  std::string name = absl::StrCat("kdbg: ", pod_ref);
  std::string said;
  if (files.vscode) {
    std::string path = files.dir + "/.vscode/launch.json";
    absl::StatusOr<std::string> old = ReadText(path);
    if (!old.ok()) return old.status();
    absl::StatusOr<std::string> merged =
        MergeLaunchJson(*old, name, VsCodeConfiguration(name, host, port, mapping));
    if (!merged.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(path, " ", merged.status().message()));
    }
    bool had_comments = !old->empty() && Json::parse(*old, nullptr, false).is_discarded();
    if (had_comments) {
      if (absl::Status s = WriteText(path + ".kdbg-backup", *old); !s.ok()) return s;
    }
    if (absl::Status s = WriteText(path, *merged); !s.ok()) return s;
    absl::StrAppend(&said, "kdbg: wrote configuration \"", name, "\" to ", path,
                    had_comments ? " (its comments are in launch.json.kdbg-backup)" : "",
                    "; in VS Code: Run and Debug, then \"", name, "\"\n");
  }
  if (files.goland) {
    std::string path = files.dir + "/.idea/runConfigurations/" + GoLandFileName(pod_ref);
    if (absl::Status s = WriteText(path, GoLandRunConfiguration(name, host, port)); !s.ok()) {
      return s;
    }
    absl::StrAppend(&said, "kdbg: wrote ", path, "; in GoLand: Run, then \"", name, "\"\n");
  }
  return said;
}

}  // namespace kdbg::cli

namespace kdbg::cli::internal {

std::string AttachSourceDir(const AttachCommandOptions& o, Console& console) {
  std::error_code ec;
  if (!o.source.empty()) {
    std::filesystem::path p = std::filesystem::absolute(o.source, ec);
    if (ec || !std::filesystem::is_directory(p, ec)) {
      console.Err(absl::StrCat("kdbg: --source ", o.source,
                               " is not a directory: no substitutePath in the configuration\n"));
      return "";
    }
    return std::filesystem::weakly_canonical(p, ec).string();
  }
  std::filesystem::path cwd = std::filesystem::current_path(ec);
  if (!ec && std::filesystem::exists(cwd / "go.mod", ec)) return cwd.string();
  console.Err(
      "kdbg: the current directory holds no go.mod: no substitutePath in the configuration (run "
      "kdbg in your checkout, or give --source DIR)\n");
  return "";
}

std::optional<SourceMapping> AttachSourceMapping(const std::string& local_dir,
                                                 const Connection& conn, Console& console) {
  if (local_dir.empty()) return std::nullopt;
  kdbg::v1::ControllerListFunctionsRequest req;
  *req.mutable_target() = conn.target;
  req.mutable_query()->set_regexp("^main\\.main$");
  req.mutable_query()->set_limit(1);
  req.mutable_query()->set_with_source(true);
  kdbg::v1::FunctionList resp;
  grpc::ClientContext context;
  PrepareContext(&context, conn.token, absl::Seconds(30));
  grpc::Status status = conn.stub->ListFunctions(&context, req, &resp);
  if (!status.ok() || resp.functions().empty() || resp.functions(0).file().empty()) {
    console.Err(absl::StrCat(
        "kdbg: no substitutePath: cannot read where the target was built (",
        status.ok() ? std::string("no main.main with a source file in its debug info")
                    : std::string(RpcStatus(status, "list the target's functions", conn).message()),
        ")\n"));
    return std::nullopt;
  }
  const std::string& remote = resp.functions(0).file();
  std::optional<SourceMapping> m = FindSourceMapping(remote, local_dir, [](const std::string& p) {
    std::error_code ec;
    return std::filesystem::is_regular_file(p, ec);
  });
  if (!m) {
    console.Err(absl::StrCat("kdbg: the target was built from ", remote,
                             "; no tail of that path is under ", local_dir,
                             " (or it is the same place): no substitutePath\n"));
    return std::nullopt;
  }
  console.Err(absl::StrCat("kdbg: sources: the build's ", m->remote, " is your ", m->local, "\n"));
  return m;
}

absl::Status CheckIdeFiles(const IdeFiles& files) {
  if (!files.vscode) return absl::OkStatus();
  std::string path = files.dir + "/.vscode/launch.json";
  absl::StatusOr<std::string> old = ReadText(path);
  if (!old.ok()) return old.status();
  absl::StatusOr<std::string> merged = MergeLaunchJson(*old, "kdbg: check", "{}");
  if (!merged.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(path, " ", merged.status().message()));
  }
  return absl::OkStatus();
}

}  // namespace kdbg::cli::internal
