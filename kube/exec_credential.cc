#include "kube/exec_credential.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/child_process.h"
#include "common/status.h"
#include "kube/objects_json.h"

namespace kdbg::kube {
namespace {

using nlohmann::json;

std::string LastLine(const std::string& text) {
  absl::string_view t = absl::StripTrailingAsciiWhitespace(text);
  size_t nl = t.rfind('\n');
  return std::string(nl == absl::string_view::npos ? t : t.substr(nl + 1));
}

}  // namespace

absl::StatusOr<ExecCredential> ParseExecCredential(absl::string_view text,
                                                   absl::string_view expected_api_version) {
  KDBG_ASSIGN_OR_RETURN(json j, ParseJson(text, "ExecCredential"));
  auto top = [&](const char* key) {
    auto it = j.find(key);
    return (it != j.end() && it->is_string()) ? it->get<std::string>() : std::string();
  };
  if (!j.is_object() || top("kind") != "ExecCredential") {
    return absl::InvalidArgumentError("plugin output is not an ExecCredential object");
  }
  std::string api_version = top("apiVersion");
  if (api_version != "client.authentication.k8s.io/v1" &&
      api_version != "client.authentication.k8s.io/v1beta1") {
    return absl::InvalidArgumentError(absl::StrCat("ExecCredential apiVersion \"", api_version,
                                                   "\" is not supported (v1 or v1beta1)"));
  }
  if (!expected_api_version.empty() && api_version != expected_api_version) {
    return absl::InvalidArgumentError(absl::StrCat("plugin returned apiVersion ", api_version,
                                                   " but the kubeconfig asks for ",
                                                   expected_api_version));
  }
  auto status = j.find("status");
  if (status == j.end() || !status->is_object()) {
    return absl::InvalidArgumentError("ExecCredential has no status");
  }
  ExecCredential cred;
  auto str = [&](const char* key) {
    auto it = status->find(key);
    return (it != status->end() && it->is_string()) ? it->get<std::string>() : std::string();
  };
  cred.token = str("token");
  cred.client_cert_pem = str("clientCertificateData");
  cred.client_key_pem = str("clientKeyData");
  if (cred.token.empty() && (cred.client_cert_pem.empty() || cred.client_key_pem.empty())) {
    return absl::InvalidArgumentError(
        "ExecCredential status has neither a token nor a client certificate and key");
  }
  if (std::string exp = str("expirationTimestamp"); !exp.empty()) {
    absl::Time t;
    std::string err;
    if (!absl::ParseTime(absl::RFC3339_full, exp, &t, &err)) {
      return absl::InvalidArgumentError(
          absl::StrCat("ExecCredential expirationTimestamp \"", exp, "\": ", err));
    }
    cred.expiry = t;
  }
  return cred;
}

ExecCredentialProvider::ExecCredentialProvider(ExecConfig config, std::string server,
                                               std::string ca_pem, Clock* clock,
                                               absl::Duration timeout)
    : config_(std::move(config)),
      server_(std::move(server)),
      ca_pem_(std::move(ca_pem)),
      clock_(clock),
      timeout_(timeout) {}

absl::StatusOr<ExecCredential> ExecCredentialProvider::Get() {
  absl::MutexLock lock(&mu_);
  if (cached_.has_value() && (!cached_->expiry.has_value() || clock_->Now() < *cached_->expiry)) {
    return *cached_;
  }
  cached_.reset();
  ++runs_;
  KDBG_ASSIGN_OR_RETURN(ExecCredential cred, Run());
  cached_ = cred;
  return cred;
}

void ExecCredentialProvider::Invalidate() {
  absl::MutexLock lock(&mu_);
  cached_.reset();
}

int ExecCredentialProvider::runs() const {
  absl::MutexLock lock(&mu_);
  return runs_;
}

absl::StatusOr<ExecCredential> ExecCredentialProvider::Run() {
  std::string plugin = absl::StrCat("exec plugin \"", config_.command, "\"");
  std::string hint =
      config_.install_hint.empty()
          ? std::string()
          : absl::StrCat("; ", absl::StripTrailingAsciiWhitespace(config_.install_hint));
  if (config_.interactive_mode == "Always") {
    return absl::FailedPreconditionError(absl::StrCat(
        plugin,
        " requires an interactive terminal (interactiveMode: Always), which kdbg does not "
        "give plugins; log in with the plugin first or use a non-interactive user"));
  }
  std::string api_version =
      config_.api_version.empty() ? "client.authentication.k8s.io/v1" : config_.api_version;
  json info = {
      {"apiVersion", api_version}, {"kind", "ExecCredential"}, {"spec", {{"interactive", false}}}};
  if (config_.provide_cluster_info) {
    info["spec"]["cluster"] = {{"server", server_},
                               {"certificate-authority-data", absl::Base64Escape(ca_pem_)}};
  }
  SpawnOptions opts;
  opts.argv.push_back(config_.command);
  opts.argv.insert(opts.argv.end(), config_.args.begin(), config_.args.end());
  for (const auto& [k, v] : config_.env) opts.extra_env.push_back(absl::StrCat(k, "=", v));
  opts.extra_env.push_back(absl::StrCat("KUBERNETES_EXEC_INFO=", info.dump()));
  opts.capture_stdout = true;
  char stderr_template[] = "/tmp/kdbg-exec-stderr-XXXXXX";
  int fd = mkstemp(stderr_template);
  if (fd < 0) return ErrnoToStatus(errno, "creating a file for the exec plugin's stderr");
  ::close(fd);
  std::string stderr_path = stderr_template;
  opts.stderr_path = stderr_path;
  struct Cleanup {
    std::string path;
    ~Cleanup() { ::unlink(path.c_str()); }
  } cleanup{stderr_path};

  auto child = ChildProcess::Spawn(opts);
  if (!child.ok()) {
    if (child.status().code() == absl::StatusCode::kNotFound) {
      return absl::NotFoundError(absl::StrCat(plugin, " not found in $PATH", hint));
    }
    return Annotate(child.status(), absl::StrCat("running ", plugin));
  }
  auto out = (*child)->ReadAllStdout(timeout_);
  auto wait = (*child)->Wait(out.ok() ? absl::Seconds(5) : absl::ZeroDuration());
  if (!out.ok() || !wait.ok()) {
    (void)(*child)->Terminate(absl::Seconds(1));
    return absl::DeadlineExceededError(
        absl::StrCat(plugin, " did not finish within ", absl::FormatDuration(timeout_)));
  }
  if (!WIFEXITED(*wait) || WEXITSTATUS(*wait) != 0) {
    std::ifstream err_in(stderr_path);
    std::stringstream ss;
    ss << err_in.rdbuf();
    std::string last = LastLine(ss.str());
    return absl::UnauthenticatedError(absl::StrCat(plugin, " failed (",
                                                   ChildProcess::DescribeWaitStatus(*wait), ")",
                                                   last.empty() ? "" : ": ", last, hint));
  }
  auto cred = ParseExecCredential(*out, api_version);
  if (!cred.ok()) {
    return absl::UnauthenticatedError(
        absl::StrCat(plugin, " printed an unusable credential: ", cred.status().message()));
  }
  return cred;
}

}  // namespace kdbg::kube
