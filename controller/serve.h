// kdbg-controller's command line: flags, wiring of the libraries, the gRPC server, signals.
#pragma once

#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/defaults.h"
#include "controller/auth.h"

namespace kdbg::controller {

struct ControllerFlags {
  std::string listen = absl::StrCat("0.0.0.0:", defaults::kControllerPort);
  std::string tls_cert, tls_key;                // served to CLIs
  std::string agent_ca, agent_cert, agent_key;  // mutual TLS to the agents
  std::string agent_server_name;                // name checked on agent certificates
  int agent_port = defaults::kAgentPort;
  std::string agent_namespace = defaults::kNamespace;
  std::string agent_selector = defaults::kAgentSelector;
  std::string kubeconfig;  // empty: in-cluster
  std::string kube_context;
  std::string policy_file;  // empty: the built-in defaults
  std::string audit_log = "/var/log/kdbg/audit.log";
  std::string log_level = "info";
  std::string log_format = "text";
  // How long accepted tokens and allowed decisions are reused (controller/auth.h); "0s": never.
  std::string auth_cache_ttl = absl::FormatDuration(AuthCacheOptions{}.ttl);
  int workers = 8;
  int max_buffered_events = 64;
};

// Parses flags, runs the server until SIGTERM/SIGINT. Returns the process exit status.
int ServeMain(int argc, char** argv);

// kdbg-controller's command line (argv[0] is the program) over the defaults above. On --help or a
// usage error CLI11 prints its text and `*exit_status` is set (the flags are then meaningless).
ControllerFlags ParseControllerFlags(int argc, const char* const* argv,
                                     std::optional<int>* exit_status);

}  // namespace kdbg::controller
