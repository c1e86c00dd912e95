// Where the Kubernetes API is and how to authenticate to it: from kubeconfig files (the CLI) or
// from the pod's service account (the controller).
//
// Kubeconfig shape read (kubectl's, YAML or JSON; unknown fields such as preferences, extensions,
// auth-provider and impersonation are ignored):
//   apiVersion: v1
//   kind: Config
//   current-context: dev
//   clusters: [{name: c, cluster: {server: https://1.2.3.4:6443, certificate-authority-data:
//   LS0t..,
//               certificate-authority: ca.pem, insecure-skip-tls-verify: false}}]
//   contexts: [{name: dev, context: {cluster: c, user: u, namespace: team}}]
//   users:    [{name: u, user: {token: ..., tokenFile: ..., client-certificate(-data): ...,
//               client-key(-data): ..., exec: {apiVersion: client.authentication.k8s.io/v1,
//               command: aws, args: [...], env: [{name: K, value: V}], installHint: ...,
//               provideClusterInfo: true, interactiveMode: Never}}}]
// Relative file paths are relative to the kubeconfig file that names them (as kubectl does).
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace kdbg::kube {

// users[].user.exec: a client-go credential plugin.
struct ExecConfig {
  std::string command = {};
  std::vector<std::string> args = {};
  std::vector<std::pair<std::string, std::string>> env = {};
  std::string api_version = {};  // client.authentication.k8s.io/v1 or /v1beta1
  std::string install_hint = {};
  std::string interactive_mode = {};  // Never, IfAvailable, Always
  bool provide_cluster_info = false;
};

struct RestConfig {
  std::string server = {};  // "https://host:port", no trailing slash
  std::string ca_pem = {};  // empty: the system trust store
  bool insecure_skip_tls_verify = false;
  std::string bearer_token = {};
  std::string token_file = {};  // re-read on use when set (projected tokens rotate)
  std::string client_cert_pem = {};
  std::string client_key_pem = {};
  std::optional<ExecConfig> exec = {};
  std::string namespace_ = {};  // the context's namespace ("" when unset; callers default)
  std::string context_name = {};
  std::string cluster_name = {};
  std::string user_name = {};
  absl::Duration timeout = absl::Seconds(30);  // per API call (watches: for the connection)
};

struct KubeconfigOptions {
  std::string explicit_path = {};   // --kubeconfig: only this file; missing -> NotFound
  std::string kubeconfig_env = {};  // $KUBECONFIG: colon-separated; missing entries are skipped
  std::string home_dir = {};        // $HOME, for ~/.kube/config when neither is set
  std::string context = {};         // --context; else current-context
};

// Loads, merges (first file to define a cluster/context/user name wins; current-context from the
// first file that sets it) and resolves the chosen context, reading any referenced files.
// Errors: NotFound for a missing explicit file, no kubeconfig at all, an unknown context (listing
// the known ones), or a referenced file that does not exist; FailedPrecondition for a context
// without cluster or user, a cluster without server, or no current-context; InvalidArgument for
// malformed YAML or base64. Messages name the file and the fix.
absl::StatusOr<RestConfig> LoadKubeconfig(const KubeconfigOptions& options);

// The same for one document already in memory; relative paths resolve against `base_dir`.
absl::StatusOr<RestConfig> ParseKubeconfig(absl::string_view text, const std::string& base_dir,
                                           const std::string& context = "");

struct InClusterOptions {
  // Holds token, ca.crt and namespace (projected service-account volume).
  std::string root = "/var/run/secrets/kubernetes.io/serviceaccount";
  std::string service_host = {};  // $KUBERNETES_SERVICE_HOST
  std::string service_port = {};  // $KUBERNETES_SERVICE_PORT
  // Fills host and port from the environment of this process.
  static InClusterOptions FromEnvironment();
};

// Service-account credentials: token_file = root/token (re-read per request), ca_pem from
// root/ca.crt, namespace_ from root/namespace. FailedPrecondition when host/port are unset (not
// running in a pod) or the token is missing.
absl::StatusOr<RestConfig> InClusterConfig(const InClusterOptions& options);

}  // namespace kdbg::kube
