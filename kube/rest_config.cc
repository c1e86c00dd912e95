// yaml-cpp throws on malformed input and on bad conversions; every call into it happens inside
// the try blocks below, so no exception leaves this file.
#include "kube/rest_config.h"

#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/status.h"
#include "yaml-cpp/yaml.h"

namespace kdbg::kube {
namespace {

struct Entry {
  YAML::Node node;       // the inner "cluster:" / "context:" / "user:" map
  std::string base_dir;  // directory of the file that defined it
  std::string file;
};

struct MergedConfig {
  std::map<std::string, Entry> clusters;
  std::map<std::string, Entry> contexts;
  std::map<std::string, Entry> users;
  std::string current_context;
  std::vector<std::string> files;
};

absl::StatusOr<std::string> ReadFile(const std::string& path, absl::string_view what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(
        absl::StrCat("cannot read ", what, " \"", path, "\": no such file or not readable"));
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string DirOf(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string Resolve(const std::string& base_dir, const std::string& path) {
  if (path.empty() || path[0] == '/' || base_dir.empty()) return path;
  return absl::StrCat(base_dir, "/", path);
}

std::string Scalar(const YAML::Node& n, const char* key) {
  if (!n.IsMap()) return "";
  YAML::Node v = n[key];
  if (!v || !v.IsScalar()) return "";
  return v.as<std::string>();
}

bool Bool(const YAML::Node& n, const char* key) {
  if (!n.IsMap()) return false;
  YAML::Node v = n[key];
  return v && v.IsScalar() && v.as<bool>();
}

// Adds the named entries of `list` (clusters / contexts / users) that are not yet known.
void MergeList(const YAML::Node& root, const char* list_key, const char* inner_key,
               const std::string& base_dir, const std::string& file,
               std::map<std::string, Entry>* into) {
  YAML::Node list = root[list_key];
  if (!list || !list.IsSequence()) return;
  for (const YAML::Node& item : list) {
    std::string name = Scalar(item, "name");
    if (name.empty() || into->count(name) > 0) continue;
    YAML::Node inner = item[inner_key];
    into->emplace(name, Entry{inner ? inner : YAML::Node(YAML::NodeType::Map), base_dir, file});
  }
}

absl::Status MergeDocument(absl::string_view text, const std::string& base_dir,
                           const std::string& file, MergedConfig* merged) {
  try {
    YAML::Node root = YAML::Load(std::string(text));
    if (root.IsNull()) return absl::OkStatus();  // an empty file, as kubectl accepts
    if (!root.IsMap()) {
      return absl::InvalidArgumentError(
          absl::StrCat("kubeconfig ", file, ": expected a mapping at the top level"));
    }
    MergeList(root, "clusters", "cluster", base_dir, file, &merged->clusters);
    MergeList(root, "contexts", "context", base_dir, file, &merged->contexts);
    MergeList(root, "users", "user", base_dir, file, &merged->users);
    if (merged->current_context.empty()) merged->current_context = Scalar(root, "current-context");
    merged->files.push_back(file);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("kubeconfig ", file, " is not valid YAML: ", e.what()));
  }
  return absl::OkStatus();
}

// "*-data" (base64) wins over the file path, as in client-go.
absl::StatusOr<std::string> DataOrFile(const Entry& e, const char* data_key, const char* file_key,
                                       absl::string_view what) {
  std::string data = Scalar(e.node, data_key);
  if (!data.empty()) {
    std::string decoded;
    if (!absl::Base64Unescape(data, &decoded)) {
      return absl::InvalidArgumentError(
          absl::StrCat("kubeconfig ", e.file, ": ", data_key, " is not valid base64"));
    }
    return decoded;
  }
  std::string path = Scalar(e.node, file_key);
  if (path.empty()) return std::string();
  auto content = ReadFile(Resolve(e.base_dir, path), what);
  if (!content.ok()) {
    return absl::Status(content.status().code(), absl::StrCat(content.status().message(), " (",
                                                              file_key, " in ", e.file, ")"));
  }
  return content;
}

absl::StatusOr<ExecConfig> ParseExec(const Entry& user, const YAML::Node& exec) {
  ExecConfig c;
  c.command = Scalar(exec, "command");
  if (c.command.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("kubeconfig ", user.file, ": exec plugin without a command"));
  }
  c.api_version = Scalar(exec, "apiVersion");
  if (c.api_version != "client.authentication.k8s.io/v1" &&
      c.api_version != "client.authentication.k8s.io/v1beta1") {
    // client-go dropped v1alpha1 in Kubernetes 1.24; plugins that still print it need upgrading.
    return absl::FailedPreconditionError(
        absl::StrCat("kubeconfig ", user.file, ": exec plugin \"", c.command,
                     "\" uses apiVersion \"", c.api_version,
                     "\"; only client.authentication.k8s.io/v1 and v1beta1 are supported "
                     "(upgrade the plugin and regenerate the kubeconfig)"));
  }
  c.install_hint = Scalar(exec, "installHint");
  c.interactive_mode = Scalar(exec, "interactiveMode");
  c.provide_cluster_info = Bool(exec, "provideClusterInfo");
  if (YAML::Node args = exec["args"]; args && args.IsSequence()) {
    for (const YAML::Node& a : args) c.args.push_back(a.as<std::string>());
  }
  if (YAML::Node env = exec["env"]; env && env.IsSequence()) {
    for (const YAML::Node& e : env) c.env.emplace_back(Scalar(e, "name"), Scalar(e, "value"));
  }
  return c;
}

std::vector<std::string> Names(const std::map<std::string, Entry>& m) {
  std::vector<std::string> out;
  out.reserve(m.size());
  for (const auto& [name, e] : m) out.push_back(name);
  return out;
}

absl::StatusOr<RestConfig> ResolveContext(const MergedConfig& cfg, const std::string& wanted) {
  std::string files = absl::StrJoin(cfg.files, ":");
  std::string context_name = wanted.empty() ? cfg.current_context : wanted;
  if (context_name.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "kubeconfig ", files, " sets no current-context; pass --context (known contexts: ",
        absl::StrJoin(Names(cfg.contexts), ", "), ")"));
  }
  auto ctx = cfg.contexts.find(context_name);
  if (ctx == cfg.contexts.end()) {
    return absl::NotFoundError(
        absl::StrCat("context \"", context_name, "\" not found in kubeconfig ", files,
                     " (known contexts: ", absl::StrJoin(Names(cfg.contexts), ", "), ")"));
  }
  RestConfig rc;
  rc.context_name = context_name;
  try {
    rc.cluster_name = Scalar(ctx->second.node, "cluster");
    rc.user_name = Scalar(ctx->second.node, "user");
    rc.namespace_ = Scalar(ctx->second.node, "namespace");
    if (rc.cluster_name.empty()) {
      return absl::FailedPreconditionError(absl::StrCat("context \"", context_name, "\" in ",
                                                        ctx->second.file, " names no cluster"));
    }
    auto cluster = cfg.clusters.find(rc.cluster_name);
    if (cluster == cfg.clusters.end()) {
      return absl::FailedPreconditionError(absl::StrCat("context \"", context_name,
                                                        "\" uses cluster \"", rc.cluster_name,
                                                        "\", which no kubeconfig file defines"));
    }
    rc.server = Scalar(cluster->second.node, "server");
    if (rc.server.empty()) {
      return absl::FailedPreconditionError(absl::StrCat("cluster \"", rc.cluster_name, "\" in ",
                                                        cluster->second.file, " has no server"));
    }
    // client-go accepts "host:port" and assumes https.
    if (!absl::StrContains(rc.server, "://")) rc.server = absl::StrCat("https://", rc.server);
    while (!rc.server.empty() && rc.server.back() == '/') rc.server.pop_back();
    rc.insecure_skip_tls_verify = Bool(cluster->second.node, "insecure-skip-tls-verify");
    KDBG_ASSIGN_OR_RETURN(rc.ca_pem, DataOrFile(cluster->second, "certificate-authority-data",
                                                "certificate-authority", "certificate-authority"));
    if (rc.user_name.empty()) {
      return absl::FailedPreconditionError(
          absl::StrCat("context \"", context_name, "\" in ", ctx->second.file, " names no user"));
    }
    auto user = cfg.users.find(rc.user_name);
    if (user == cfg.users.end()) {
      return absl::FailedPreconditionError(absl::StrCat("context \"", context_name,
                                                        "\" uses user \"", rc.user_name,
                                                        "\", which no kubeconfig file defines"));
    }
    const Entry& u = user->second;
    rc.bearer_token = Scalar(u.node, "token");
    if (std::string tf = Scalar(u.node, "tokenFile"); !tf.empty()) {
      rc.token_file = Resolve(u.base_dir, tf);
    }
    KDBG_ASSIGN_OR_RETURN(
        rc.client_cert_pem,
        DataOrFile(u, "client-certificate-data", "client-certificate", "client-certificate"));
    KDBG_ASSIGN_OR_RETURN(rc.client_key_pem,
                          DataOrFile(u, "client-key-data", "client-key", "client-key"));
    if (rc.client_cert_pem.empty() != rc.client_key_pem.empty()) {
      return absl::FailedPreconditionError(
          absl::StrCat("user \"", rc.user_name, "\" in ", u.file,
                       " has a client certificate without a key, or a key without a certificate"));
    }
    if (YAML::Node exec = u.node["exec"]; exec && exec.IsMap()) {
      KDBG_ASSIGN_OR_RETURN(rc.exec, ParseExec(u, exec));
    }
    if (YAML::Node ap = u.node["auth-provider"];
        ap && ap.IsMap() && rc.bearer_token.empty() && rc.token_file.empty() &&
        rc.client_cert_pem.empty() && !rc.exec.has_value()) {
      return absl::FailedPreconditionError(
          absl::StrCat("user \"", rc.user_name, "\" in ", u.file,
                       " authenticates with auth-provider \"", Scalar(ap, "name"),
                       "\", which kdbg (like kubectl 1.26+) does not support; use an "
                       "exec plugin such as kubelogin instead"));
    }
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("kubeconfig ", files, ": unexpected shape: ", e.what()));
  }
  return rc;
}

}  // namespace

absl::StatusOr<RestConfig> ParseKubeconfig(absl::string_view text, const std::string& base_dir,
                                           const std::string& context) {
  MergedConfig merged;
  KDBG_RETURN_IF_ERROR(MergeDocument(text, base_dir, "(in memory)", &merged));
  return ResolveContext(merged, context);
}

absl::StatusOr<RestConfig> LoadKubeconfig(const KubeconfigOptions& options) {
  std::vector<std::string> paths;
  bool must_exist = false;
  if (!options.explicit_path.empty()) {
    paths.push_back(options.explicit_path);
    must_exist = true;
  } else if (!options.kubeconfig_env.empty()) {
    for (absl::string_view p : absl::StrSplit(options.kubeconfig_env, ':', absl::SkipEmpty())) {
      paths.emplace_back(p);
    }
  } else if (!options.home_dir.empty()) {
    paths.push_back(absl::StrCat(options.home_dir, "/.kube/config"));
  }
  MergedConfig merged;
  for (const std::string& path : paths) {
    std::ifstream probe(path);
    if (!probe) {
      if (must_exist) {
        return absl::NotFoundError(absl::StrCat("kubeconfig \"", path,
                                                "\" (from --kubeconfig) does not exist or is not "
                                                "readable"));
      }
      continue;  // kubectl skips missing entries of $KUBECONFIG
    }
    KDBG_ASSIGN_OR_RETURN(std::string text, ReadFile(path, "kubeconfig"));
    KDBG_RETURN_IF_ERROR(MergeDocument(text, DirOf(path), path, &merged));
  }
  if (merged.files.empty()) {
    return absl::NotFoundError(absl::StrCat(
        "no kubeconfig found (looked at: ", paths.empty() ? "nothing" : absl::StrJoin(paths, ", "),
        "); pass --kubeconfig FILE or set KUBECONFIG"));
  }
  return ResolveContext(merged, options.context);
}

InClusterOptions InClusterOptions::FromEnvironment() {
  InClusterOptions o;
  if (const char* h = std::getenv("KUBERNETES_SERVICE_HOST")) o.service_host = h;
  if (const char* p = std::getenv("KUBERNETES_SERVICE_PORT")) o.service_port = p;
  return o;
}

absl::StatusOr<RestConfig> InClusterConfig(const InClusterOptions& options) {
  if (options.service_host.empty() || options.service_port.empty()) {
    return absl::FailedPreconditionError(
        "not running in a Kubernetes pod: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT "
        "are not set; pass a kubeconfig instead");
  }
  RestConfig rc;
  std::string host = options.service_host;
  if (absl::StrContains(host, ":") && host.front() != '[') host = absl::StrCat("[", host, "]");
  rc.server = absl::StrCat("https://", host, ":", options.service_port);
  rc.token_file = absl::StrCat(options.root, "/token");
  auto token = ReadFile(rc.token_file, "service-account token");
  if (!token.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(
        token.status().message(), "; is automountServiceAccountToken disabled for this pod?"));
  }
  KDBG_ASSIGN_OR_RETURN(rc.ca_pem,
                        ReadFile(absl::StrCat(options.root, "/ca.crt"), "service-account CA"));
  auto ns = ReadFile(absl::StrCat(options.root, "/namespace"), "service-account namespace");
  if (ns.ok()) rc.namespace_ = std::string(absl::StripAsciiWhitespace(*ns));
  rc.context_name = "in-cluster";
  return rc;
}

}  // namespace kdbg::kube
