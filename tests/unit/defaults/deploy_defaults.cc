#include "tests/unit/defaults/deploy_defaults.h"

#include <map>
#include <optional>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "agent/service/agent_config.h"
#include "cli/controller.h"
#include "controller/policy.h"
#include "controller/serve.h"
#include "yaml-cpp/yaml.h"

namespace kdbg::deploycheck {
namespace {

struct Install {
  std::vector<YAML::Node> objects;
  const YAML::Node* Find(const std::string& kind, const std::string& name) const {
    for (const YAML::Node& o : objects) {
      if (o["kind"] && o["kind"].as<std::string>() == kind && o["metadata"]["name"] &&
          o["metadata"]["name"].as<std::string>() == name) {
        return &o;
      }
    }
    return nullptr;
  }
};

std::string Str(const YAML::Node& n) { return n && n.IsScalar() ? n.as<std::string>() : ""; }

int PortOf(const std::string& host_port) {
  int port = 0;
  std::vector<std::string> parts = absl::StrSplit(host_port, ':');
  if (parts.empty() || !absl::SimpleAtoi(parts.back(), &port)) return -1;
  return port;
}

// containerPort of the port named `name` in the first container of a workload.
int ContainerPort(const YAML::Node& workload, const std::string& name) {
  for (const YAML::Node& p : workload["spec"]["template"]["spec"]["containers"][0]["ports"]) {
    if (Str(p["name"]) == name) return p["containerPort"].as<int>();
  }
  return -1;
}

std::vector<std::string> Args(const YAML::Node& workload) {
  std::vector<std::string> args;
  for (const YAML::Node& a : workload["spec"]["template"]["spec"]["containers"][0]["args"]) {
    args.push_back(a.as<std::string>());
  }
  return args;
}

std::string Id(const YAML::Node& o) {
  return absl::StrCat(Str(o["kind"]), " ", Str(o["metadata"]["namespace"]), "/",
                      Str(o["metadata"]["name"]));
}

void Check(const Install& in, std::vector<std::string>* problems) {
  auto problem = [&](std::string p) { problems->push_back(std::move(p)); };
  const YAML::Node* svc = in.Find("Service", cli::kControllerService);
  const YAML::Node* ctl = in.Find("Deployment", "kdbg-controller");
  const YAML::Node* ds = in.Find("DaemonSet", "kdbg-agent");
  const YAML::Node* policy_cm = in.Find("ConfigMap", "kdbg-policy");
  for (auto [o, what] :
       {std::pair{svc, "Service kdbg-controller"}, std::pair{ctl, "Deployment kdbg-controller"},
        std::pair{ds, "DaemonSet kdbg-agent"}, std::pair{policy_cm, "ConfigMap kdbg-policy"}}) {
    if (o == nullptr) problem(absl::StrCat(what, " is missing"));
  }
  if (svc == nullptr || ctl == nullptr || ds == nullptr || policy_cm == nullptr) return;

  // The namespace the CLI discovers the controller in, and the controller its agents in.
  for (const YAML::Node* o : {svc, ctl, ds, policy_cm}) {
    if (Str((*o)["metadata"]["namespace"]) != cli::kControllerNamespace) {
      problem(absl::StrCat(Id(*o), ": namespace is not ", cli::kControllerNamespace,
                           ", where the CLI looks for the controller (common/defaults.h)"));
    }
  }

  // The controller's command line, through its own flag parser.
  std::vector<std::string> ctl_args = Args(*ctl);
  std::vector<const char*> argv = {"kdbg-controller"};
  for (const std::string& a : ctl_args) argv.push_back(a.c_str());
  std::optional<int> exit_status;
  controller::ControllerFlags flags =
      controller::ParseControllerFlags(static_cast<int>(argv.size()), argv.data(), &exit_status);
  if (exit_status.has_value()) {
    problem(absl::StrCat(
        Id(*ctl), ": kdbg-controller refuses its arguments: ", absl::StrJoin(ctl_args, " ")));
    return;
  }

  // CLI -> Service -> controller container.
  const YAML::Node ports = (*svc)["spec"]["ports"];
  if (!ports.IsSequence() || ports.size() != 1) {
    problem(absl::StrCat(Id(*svc), ": want exactly one port (the CLI port-forwards to it)"));
  } else {
    int port = ports[0]["port"].as<int>();
    if (port != cli::kControllerServicePort) {
      problem(absl::StrCat(Id(*svc), ": port ", port, ", but the CLI port-forwards to port ",
                           cli::kControllerServicePort));
    }
    std::string target = Str(ports[0]["targetPort"]);
    int target_port = -1;
    if (!absl::SimpleAtoi(target, &target_port)) target_port = ContainerPort(*ctl, target);
    if (target_port != PortOf(flags.listen)) {
      problem(absl::StrCat(Id(*svc), ": targetPort ", target, " is port ", target_port,
                           ", but kdbg-controller listens on ", flags.listen));
    }
  }
  if (ContainerPort(*ctl, "grpc") != PortOf(flags.listen)) {
    problem(absl::StrCat(Id(*ctl), ": container port grpc is ", ContainerPort(*ctl, "grpc"),
                         ", but kdbg-controller listens on ", flags.listen));
  }

  // Controller -> agents.
  std::vector<std::string> agent_args = Args(*ds);
  if (agent_args.empty() || agent_args.front() != "serve") {
    problem(absl::StrCat(Id(*ds), ": the agent's first argument must be `serve`"));
    return;
  }
  auto agent = agent::ParseAgentConfig({agent_args.begin() + 1, agent_args.end()});
  if (!agent.ok()) {
    problem(absl::StrCat(Id(*ds),
                         ": kdbg-agent serve refuses its arguments: ", agent.status().message()));
    return;
  }
  if (flags.agent_namespace != Str((*ds)["metadata"]["namespace"])) {
    problem(absl::StrCat(Id(*ctl), ": the controller looks for agents in namespace ",
                         flags.agent_namespace, ", but they run in ",
                         Str((*ds)["metadata"]["namespace"])));
  }
  if (flags.agent_port != PortOf(agent->listen) || ContainerPort(*ds, "grpc") != flags.agent_port) {
    problem(absl::StrCat(Id(*ctl), ": the controller dials agents on port ", flags.agent_port,
                         ", the agent listens on ", agent->listen, ", its container port grpc is ",
                         ContainerPort(*ds, "grpc")));
  }
  if (ContainerPort(*ds, "health") != PortOf(agent->health_listen)) {
    problem(absl::StrCat(Id(*ds), ": container port health is ", ContainerPort(*ds, "health"),
                         ", but the agent serves health on ", agent->health_listen));
  }
  std::vector<std::string> selector = absl::StrSplit(flags.agent_selector, '=');
  const YAML::Node labels = (*ds)["spec"]["template"]["metadata"]["labels"];
  if (selector.size() != 2 || Str(labels[selector[0]]) != selector[1]) {
    problem(absl::StrCat(Id(*ds), ": its pods do not match the controller's agent selector ",
                         flags.agent_selector));
  }
  bool admits_controller = false;
  for (const std::string& c : agent->allowed_clients) {
    admits_controller = admits_controller || c == defaults::kControllerClientName;
  }
  if (!admits_controller) {
    problem(absl::StrCat(Id(*ds), ": the agent does not admit the controller's certificate (",
                         defaults::kControllerClientName, ")"));
  }

  // The shipped policy and the controller's built-in one (used when no --policy is given).
  auto shipped =
      controller::ParsePolicy(Str((*policy_cm)["data"]["policy.yaml"]), flags.agent_namespace);
  if (!shipped.ok()) {
    problem(absl::StrCat(Id(*policy_cm), ": ", shipped.status().message()));
    return;
  }
  controller::Policy builtin = controller::DefaultPolicy(flags.agent_namespace);
  auto differs = [&](const char* key, const std::string& file, const std::string& binary) {
    if (file != binary) {
      problem(absl::StrCat(Id(*policy_cm), ": ", key, " is ", file,
                           ", the controller's built-in default is ", binary));
    }
  };
  differs("defaultLease", absl::FormatDuration(shipped->default_lease),
          absl::FormatDuration(builtin.default_lease));
  differs("maxLease", absl::FormatDuration(shipped->max_lease),
          absl::FormatDuration(builtin.max_lease));
  differs("maxSessionsPerUser", absl::StrCat(shipped->max_sessions_per_user),
          absl::StrCat(builtin.max_sessions_per_user));
  differs("maxSessions", absl::StrCat(shipped->max_sessions), absl::StrCat(builtin.max_sessions));
  // Explicit in the shipped policy (ParsePolicy would fill in the built-in one when absent).
  if (!absl::StrContains(Str((*policy_cm)["data"]["policy.yaml"]), "maxPodsPerSession:")) {
    problem(absl::StrCat(Id(*policy_cm), ": the policy does not state maxPodsPerSession"));
  }
  differs("maxPodsPerSession", absl::StrCat(shipped->max_pods_per_session),
          absl::StrCat(builtin.max_pods_per_session));
  differs("attach", std::string(controller::AttachRuleWord(shipped->attach)),
          std::string(controller::AttachRuleWord(builtin.attach)));
  differs("protectedNamespaces", absl::StrJoin(shipped->protected_namespaces, ","),
          absl::StrJoin(builtin.protected_namespaces, ","));
  if (agent->lease_max < shipped->max_lease) {
    problem(absl::StrCat(Id(*ds), ": the agent caps leases at ",
                         absl::FormatDuration(agent->lease_max), ", below the policy's maxLease ",
                         absl::FormatDuration(shipped->max_lease)));
  }
  if (agent->lease_default != shipped->default_lease) {
    problem(absl::StrCat(Id(*ds), ": the agent's default lease is ",
                         absl::FormatDuration(agent->lease_default), ", the policy's defaultLease ",
                         absl::FormatDuration(shipped->default_lease)));
  }

  // The certificate the CLI checks through a port-forward (cert-manager install only).
  if (const YAML::Node* cert = in.Find("Certificate", "kdbg-controller"); cert != nullptr) {
    bool named = false;
    for (const YAML::Node& n : (*cert)["spec"]["dnsNames"]) {
      named = named || Str(n) == cli::kControllerTlsName;
    }
    if (!named) {
      problem(absl::StrCat(Id(*cert), ": dnsNames lack ", cli::kControllerTlsName,
                           ", the name the CLI checks through a port-forward"));
    }
  }
}

}  // namespace

std::vector<std::string> CheckDeployDefaults(const std::vector<std::string>& yaml_texts) {
  std::vector<std::string> problems;
  Install in;
  try {
    for (const std::string& text : yaml_texts) {
      for (const YAML::Node& doc : YAML::LoadAll(text)) {
        if (doc.IsMap()) in.objects.push_back(doc);
      }
    }
    Check(in, &problems);
  } catch (const YAML::Exception& e) {
    problems.push_back(absl::StrCat("YAML: ", e.what()));
  }
  return problems;
}

}  // namespace kdbg::deploycheck
