#include "controller/serve.h"

#include <signal.h>

#include <memory>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/grpc_limits.h"
#include "common/log.h"
#include "common/status.h"
#include "common/tls.h"
#include "common/work_queue.h"
#include "controller/agent_channels.h"
#include "controller/audit.h"
#include "controller/auth.h"
#include "controller/policy.h"
#include "controller/routing.h"
#include "controller/service.h"
#include "grpcpp/server_builder.h"
#include "kube/http_client.h"
#include "kube/rest_config.h"

namespace kdbg::controller {
namespace {

absl::StatusOr<std::unique_ptr<kube::Client>> MakeKubeClient(const ControllerFlags& f) {
  absl::StatusOr<kube::RestConfig> config;
  if (f.kubeconfig.empty()) {
    config = kube::InClusterConfig(kube::InClusterOptions::FromEnvironment());
  } else {
    kube::KubeconfigOptions opts;
    opts.explicit_path = f.kubeconfig;
    opts.context = f.kube_context;
    config = kube::LoadKubeconfig(opts);
  }
  if (!config.ok()) {
    return Annotate(config.status(), "cannot configure the Kubernetes client (--kubeconfig)");
  }
  return kube::NewHttpClientOrError(*config, RealClock::Get());
}

absl::Status Serve(const ControllerFlags& f) {
  KDBG_ASSIGN_OR_RETURN(std::unique_ptr<kube::Client> kube, MakeKubeClient(f));
  Policy policy = DefaultPolicy(f.agent_namespace);
  if (!f.policy_file.empty()) {
    KDBG_ASSIGN_OR_RETURN(policy, LoadPolicyFile(f.policy_file, f.agent_namespace));
  }
  KDBG_ASSIGN_OR_RETURN(std::unique_ptr<FileAuditSink> audit, FileAuditSink::Open(f.audit_log));
  KDBG_ASSIGN_OR_RETURN(std::shared_ptr<grpc::ServerCredentials> server_creds,
                        tls::MakeServerCredentialsNoClientCert({f.tls_cert, f.tls_key, ""}));
  KDBG_ASSIGN_OR_RETURN(std::shared_ptr<grpc::ChannelCredentials> agent_creds,
                        tls::MakeClientCredentials({f.agent_ca, f.agent_cert, f.agent_key}));

  absl::Duration auth_ttl;
  if (!absl::ParseDuration(f.auth_cache_ttl, &auth_ttl) || auth_ttl < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(absl::StrCat("--auth-cache-ttl \"", f.auth_cache_ttl,
                                                   "\" is not a duration such as 10s, 1m or 0s"));
  }
  WorkQueue work(f.workers);
  Authorizer auth(kube.get(), RealClock::Get(), AuthCacheOptions{auth_ttl});
  AgentDirectory agents(kube.get(), {f.agent_namespace, f.agent_selector, f.agent_port});
  if (absl::Status s = agents.Start(); !s.ok()) {
    log::Warning("cannot list the agents yet; retrying", {{"error", std::string(s.message())}});
  }
  AgentChannels channels(agent_creds, f.agent_server_name);
  SessionLimiter limiter(&policy);
  Auditor auditor(audit.get(), kube.get(), &work, RealClock::Get());
  ServiceDeps deps{kube.get(), &auth,    &agents, &channels,       &policy,
                   &limiter,   &auditor, &work,   RealClock::Get()};
  ServiceOptions options;
  options.max_buffered_events = static_cast<size_t>(f.max_buffered_events);
  ControllerService service(deps, options);

  grpc::ServerBuilder builder;
  builder.AddListeningPort(f.listen, server_creds);
  ApplyGrpcLimits(&builder);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", f.listen, " (address in use? check --listen)"));
  }
  log::Info("kdbg-controller serving", {{"listen", f.listen},
                                        {"agents", f.agent_namespace + " " + f.agent_selector},
                                        {"agent_port", f.agent_port},
                                        {"version", KDBG_VERSION}});
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  int sig = 0;
  sigwait(&set, &sig);
  log::Info("shutting down", {{"signal", sig}});
  // Ends every relayed call: agents see their calls cancelled and end their sessions safely.
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  agents.Stop();
  return absl::OkStatus();
}

}  // namespace

int ServeMain(int argc, char** argv) {
  // Block the signals before any thread starts so that only sigwait sees them.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);

  std::optional<int> exit_status;
  ControllerFlags f = ParseControllerFlags(argc, argv, &exit_status);
  if (exit_status.has_value()) return *exit_status;
  log::Level level;
  if (!log::ParseLevel(f.log_level, &level)) level = log::Level::kInfo;
  log::Configure(level, f.log_format == "json" ? log::Format::kJson : log::Format::kText);
  absl::Status s = Serve(f);
  if (!s.ok()) {
    log::Error("kdbg-controller failed", {{"error", std::string(s.message())}});
    return 1;
  }
  return 0;
}

ControllerFlags ParseControllerFlags(int argc, const char* const* argv,
                                     std::optional<int>* exit_status) {
  ControllerFlags f;
  CLI::App app{"kdbg-controller: authenticates, authorizes, routes and relays kdbg sessions"};
  app.add_option("--listen", f.listen, "address:port for kdbg CLIs (TLS)");
  app.add_option("--tls-cert", f.tls_cert, "server certificate (PEM) shown to CLIs")->required();
  app.add_option("--tls-key", f.tls_key, "its private key (PEM)")->required();
  app.add_option("--agent-ca", f.agent_ca, "CA that agent certificates chain to")->required();
  app.add_option("--agent-cert", f.agent_cert, "client certificate presented to agents")
      ->required();
  app.add_option("--agent-key", f.agent_key, "its private key")->required();
  app.add_option("--agent-server-name", f.agent_server_name,
                 "name checked on agent certificates (default: the agent pod's IP)");
  app.add_option("--agent-port", f.agent_port, "port agents listen on, at their pod IP");
  app.add_option("--agent-namespace", f.agent_namespace, "namespace of the agent pods (protected)");
  app.add_option("--agent-selector", f.agent_selector, "label selector of the agent pods");
  app.add_option("--kubeconfig", f.kubeconfig, "kubeconfig (default: in-cluster service account)");
  app.add_option("--context", f.kube_context, "kubeconfig context");
  app.add_option("--policy", f.policy_file, "policy YAML (docs/controller.md)");
  app.add_option("--audit-log", f.audit_log, "audit log file (JSON Lines, appended)");
  app.add_option("--auth-cache-ttl", f.auth_cache_ttl,
                 "reuse accepted tokens and allowed reviews this long (e.g. 10s; 0s: never)");
  app.add_option("--workers", f.workers, "threads for API and agent calls");
  app.add_option("--max-buffered-events", f.max_buffered_events, "per stream");
  app.add_option("--log-level", f.log_level, "debug, info, warning, error");
  app.add_option("--log-format", f.log_format, "text or json");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    *exit_status = app.exit(e);
  }
  return f;
}

}  // namespace kdbg::controller
