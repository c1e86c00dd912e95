#include "cli/command_util.h"

#include "absl/strings/str_cat.h"
#include "cli/target.h"
#include "common/grpc_status.h"
#include "common/status.h"

namespace kdbg::cli::internal {

void Console::Out(const std::string& text) {
  if (text.empty()) return;
  absl::MutexLock lock(&mu_);
  *env_.out << text << std::flush;
}

void Console::Err(const std::string& text) {
  if (text.empty()) return;
  absl::MutexLock lock(&mu_);
  *env_.err << text << std::flush;
}

void Console::Print(const Rendered& r) {
  absl::MutexLock lock(&mu_);
  if (!r.out.empty()) *env_.out << r.out << std::flush;
  if (!r.err.empty()) *env_.err << r.err << std::flush;
}

int Console::Fail(const std::string& code, const std::string& message) {
  std::string line = message;
  for (char& c : line) {
    if (c == '\n') c = ' ';
  }
  absl::MutexLock lock(&mu_);
  if (format_ == OutputFormat::kJson) *env_.out << ErrorJson(code, line) << "\n" << std::flush;
  *env_.err << "kdbg: error: " << line << "\n" << std::flush;
  return 1;
}

int Console::Fail(const absl::Status& status) {
  return Fail(CodeName(status.code()), std::string(status.message()));
}

absl::Status RpcStatus(const grpc::Status& status, const std::string& what, const Connection& c) {
  return absl::Status(FromGrpcCode(status.error_code()),
                      DescribeRpcError(status, what, c.endpoint.Describe()));
}

absl::StatusOr<Connection> Connect(const GlobalOptions& g, const TargetOptions* target,
                                   const CommandEnv& env, Console& console) {
  Connection c;
  std::string pod_name;
  if (target != nullptr) {
    KDBG_ASSIGN_OR_RETURN(pod_name, ParseTarget(target->target));
  }
  KDBG_ASSIGN_OR_RETURN(c.cluster, env.open_cluster(g));
  if (target != nullptr) {
    std::string ns = g.namespace_.empty() ? c.cluster->Namespace() : g.namespace_;
    auto pod = c.cluster->GetPod(ns, pod_name);
    if (!pod.ok()) {
      return Annotate(pod.status(),
                      absl::StrCat("reading pod ", ns, "/", pod_name, " from the Kubernetes API"));
    }
    KDBG_ASSIGN_OR_RETURN(std::string container, SelectContainer(*pod, target->container));
    c.target.set_namespace_(ns);
    c.target.set_pod(pod_name);
    c.target.set_container(container);
    console.Err(absl::StrCat("kdbg: pod ", ns, "/", pod_name, " container ", container, " on node ",
                             pod->node_name.empty() ? "(unscheduled)" : pod->node_name, "\n"));
  }
  KDBG_ASSIGN_OR_RETURN(c.token, c.cluster->BearerToken());
  auto endpoint = env.find_controller(g, c.cluster->KubectlArgs());
  if (!endpoint.ok()) return endpoint.status();
  c.endpoint = std::move(*endpoint);
  KDBG_ASSIGN_OR_RETURN(auto channel, DialController(c.endpoint, g.controller_ca));
  c.stub = kdbg::v1::Controller::NewStub(channel);
  return c;
}

}  // namespace kdbg::cli::internal
