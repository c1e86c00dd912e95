// Cluster over the kube library: kubeconfig loading as kubectl does it, the pod read with the
// user's own credentials, and the bearer token for the controller.
#include <fstream>
#include <memory>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "cli/cluster.h"
#include "common/clock.h"
#include "common/status.h"
#include "kube/exec_credential.h"
#include "kube/http_client.h"
#include "kube/rest_config.h"

namespace kdbg::cli {
namespace {

class KubeCluster final : public Cluster {
 public:
  KubeCluster(kube::RestConfig config, std::unique_ptr<kube::ExecCredentialProvider> exec,
              std::vector<std::string> kubectl_args)
      : config_(std::move(config)),
        exec_(std::move(exec)),
        kubectl_args_(std::move(kubectl_args)),
        client_(kube::NewHttpClient(config_, RealClock::Get())) {}

  std::string Namespace() const override {
    return config_.namespace_.empty() ? "default" : config_.namespace_;
  }

  absl::StatusOr<kube::Pod> GetPod(const std::string& ns, const std::string& name) override {
    return client_->GetPod(ns, name);
  }

  absl::StatusOr<kube::Workload> GetWorkload(kube::WorkloadKind kind, const std::string& ns,
                                             const std::string& name) override {
    return client_->GetWorkload(kind, ns, name);
  }

  absl::StatusOr<std::vector<kube::Pod>> ListPods(const std::string& ns,
                                                  const std::string& label_selector) override {
    kube::ListOptions o;
    o.label_selector = label_selector;
    return client_->ListPods(ns, o);
  }

  absl::StatusOr<std::string> BearerToken() override {
    // The plugin first: config_.bearer_token may hold its earlier token, which can expire.
    if (exec_ != nullptr) {
      auto cred = exec_->Get();  // cached until its expirationTimestamp, then run again
      if (!cred.ok()) return Annotate(cred.status(), "kubeconfig exec credential plugin");
      if (!cred->token.empty()) return cred->token;
    }
    if (!config_.bearer_token.empty()) return config_.bearer_token;
    if (!config_.token_file.empty()) {
      std::ifstream in(config_.token_file);
      if (!in) {
        return absl::NotFoundError(absl::StrCat("cannot read tokenFile ", config_.token_file,
                                                " of kubeconfig user \"", config_.user_name, "\""));
      }
      std::stringstream ss;
      ss << in.rdbuf();
      std::string token(absl::StripAsciiWhitespace(ss.str()));
      if (!token.empty()) return token;
    }
    std::string has = !config_.client_cert_pem.empty() || exec_ != nullptr
                          ? "authenticates with a client certificate only"
                          : "has no token, tokenFile or exec plugin";
    return absl::FailedPreconditionError(absl::StrCat(
        "kubeconfig user \"", config_.user_name, "\" (context \"", config_.context_name, "\") ",
        has,
        ", but the kdbg controller authenticates users by bearer token; use a user with a token, "
        "tokenFile or exec plugin (for example `kubectl create token NAME` for a service account) "
        "via --context or --kubeconfig"));
  }

  std::vector<std::string> KubectlArgs() const override { return kubectl_args_; }

  kube::Client* Api() override { return client_.get(); }

 private:
  kube::RestConfig config_;
  std::unique_ptr<kube::ExecCredentialProvider> exec_;
  std::vector<std::string> kubectl_args_;
  std::unique_ptr<kube::Client> client_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Cluster>> OpenCluster(const ClusterOptions& options) {
  kube::KubeconfigOptions ko;
  ko.explicit_path = options.kubeconfig;
  ko.kubeconfig_env = options.kubeconfig_env;
  ko.home_dir = options.home;
  ko.context = options.context;
  KDBG_ASSIGN_OR_RETURN(kube::RestConfig config, kube::LoadKubeconfig(ko));
  std::vector<std::string> args;
  if (!options.kubeconfig.empty()) args = {"--kubeconfig", options.kubeconfig};
  if (!options.context.empty()) {
    args.push_back("--context");
    args.push_back(options.context);
  }
  std::unique_ptr<kube::ExecCredentialProvider> exec;
  if (config.exec.has_value() && config.bearer_token.empty() && config.token_file.empty()) {
    exec = std::make_unique<kube::ExecCredentialProvider>(*config.exec, config.server,
                                                          config.ca_pem, RealClock::Get());
    // One plugin run serves both the API server and the controller: a token is given to the API
    // client directly (the CLI reads one pod, at start); certificates stay with the plugin.
    auto cred = exec->Get();
    if (!cred.ok()) return Annotate(cred.status(), "kubeconfig exec credential plugin");
    if (!cred->token.empty()) config.bearer_token = cred->token;
  }
  return std::unique_ptr<Cluster>(std::make_unique<KubeCluster>(config, std::move(exec), args));
}

}  // namespace kdbg::cli
