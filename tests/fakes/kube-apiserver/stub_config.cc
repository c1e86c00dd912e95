#include "tests/fakes/kube-apiserver/stub_config.h"

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "yaml-cpp/yaml.h"

namespace kdbg::kube::stub {
namespace {

std::vector<std::string> Strings(const YAML::Node& n, const char* key) {
  std::vector<std::string> out;
  YAML::Node v = n[key];
  if (!v) return out;
  if (v.IsScalar()) {
    out.push_back(v.as<std::string>());
  } else if (v.IsSequence()) {
    for (const YAML::Node& e : v) out.push_back(e.IsNull() ? "" : e.as<std::string>());
  }
  return out;
}

std::string Str(const YAML::Node& n, const char* key) {
  YAML::Node v = n[key];
  return (v && v.IsScalar()) ? v.as<std::string>() : "";
}

}  // namespace

absl::StatusOr<StubConfig> ParseStubConfig(absl::string_view text, const std::string& base_dir) {
  StubConfig cfg;
  try {
    YAML::Node root = YAML::Load(std::string(text));
    if (!root.IsMap()) return absl::InvalidArgumentError("stub config: expected a mapping");
    cfg.pods_dir = Str(root, "pods_dir");
    if (cfg.pods_dir.empty()) cfg.pods_dir = Str(root, "podsDir");
    if (!cfg.pods_dir.empty() && cfg.pods_dir[0] != '/') {
      cfg.pods_dir = absl::StrCat(base_dir, "/", cfg.pods_dir);
    }
    cfg.workloads_dir = Str(root, "workloads_dir");
    if (!cfg.workloads_dir.empty() && cfg.workloads_dir[0] != '/') {
      cfg.workloads_dir = absl::StrCat(base_dir, "/", cfg.workloads_dir);
    }
    if (YAML::Node users = root["users"]; users && users.IsSequence()) {
      for (const YAML::Node& u : users) {
        UserInfo info;
        info.authenticated = true;
        std::string token = Str(u, "token");
        info.username = Str(u, "username");
        info.uid = Str(u, "uid");
        info.groups = Strings(u, "groups");
        if (token.empty() || info.username.empty()) {
          return absl::InvalidArgumentError("stub config: every user needs token and username");
        }
        // As the real authenticators do, every authenticated user is in system:authenticated.
        if (std::find(info.groups.begin(), info.groups.end(), "system:authenticated") ==
            info.groups.end()) {
          info.groups.push_back("system:authenticated");
        }
        cfg.users[token] = std::move(info);
      }
    }
    if (YAML::Node rules = root["rules"]; rules && rules.IsSequence()) {
      int i = 0;
      for (const YAML::Node& r : rules) {
        AccessRule rule;
        // A subject matches a username or one of the user's groups.
        rule.users = Strings(r, "subjects");
        rule.groups = rule.users;
        for (const std::string& u : Strings(r, "users")) rule.users.push_back(u);
        for (const std::string& g : Strings(r, "userGroups")) rule.groups.push_back(g);
        rule.verbs = Strings(r, "verbs");
        rule.resources = Strings(r, "resources");
        rule.api_groups = Strings(r, "groups");
        for (const std::string& g : Strings(r, "apiGroups")) rule.api_groups.push_back(g);
        if (rule.api_groups.empty()) rule.api_groups.push_back("");
        rule.namespaces = Strings(r, "namespaces");
        rule.resource_names = Strings(r, "resourceNames");
        std::string name = Str(r, "name");
        if (name.find('"') != std::string::npos) {
          rule.binding = name;  // a full description: RoleBinding "x" of ClusterRole "y"
        } else {
          rule.name = name.empty() ? absl::StrCat("rule-", i) : name;
        }
        YAML::Node deny = r["deny"];
        rule.deny = deny && deny.IsScalar() && deny.as<bool>();
        rule.deny_reason = Str(r, "reason");
        if (rule.verbs.empty() || rule.resources.empty() ||
            (rule.users.empty() && rule.groups.empty())) {
          return absl::InvalidArgumentError(
              absl::StrCat("stub config: rules[", i, "] needs subjects, verbs and resources"));
        }
        cfg.rules.Add(std::move(rule));
        ++i;
      }
    }
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("stub config is not valid YAML: ", e.what()));
  }
  return cfg;
}

absl::StatusOr<StubConfig> LoadStubConfig(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read stub config ", path));
  std::stringstream ss;
  ss << in.rdbuf();
  size_t slash = path.rfind('/');
  return ParseStubConfig(ss.str(), slash == std::string::npos ? "." : path.substr(0, slash));
}

}  // namespace kdbg::kube::stub
