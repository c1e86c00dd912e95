// kdbg-controller's command line: flags, wiring of the libraries, the gRPC server, signals.
#pragma once

#include <string>

namespace kdbg::controller {

struct ControllerFlags {
  std::string listen = "0.0.0.0:7444";
  std::string tls_cert, tls_key;                // served to CLIs
  std::string agent_ca, agent_cert, agent_key;  // mutual TLS to the agents
  std::string agent_server_name;                // name checked on agent certificates
  int agent_port = 7443;
  std::string agent_namespace = "kdbg-system";
  std::string agent_selector = "app.kubernetes.io/name=kdbg-agent";
  std::string kubeconfig;  // empty: in-cluster
  std::string kube_context;
  std::string policy_file;  // empty: the built-in defaults
  std::string audit_log = "/var/log/kdbg/audit.log";
  std::string log_level = "info";
  std::string log_format = "text";
  int workers = 8;
  int max_buffered_events = 64;
};

// Parses flags, runs the server until SIGTERM/SIGINT. Returns the process exit status.
int ServeMain(int argc, char** argv);

}  // namespace kdbg::controller
