// `kdbg-agent serve` configuration: flags, an optional YAML file, defaults.
//
// Precedence: flag > YAML file (--config) > default. The YAML file uses the flag names without
// dashes in front, e.g.
//
//   listen: 0.0.0.0:7443
//   tls-cert: /etc/kdbg/tls/tls.crt
//   tls-key: /etc/kdbg/tls/tls.key
//   tls-ca: /etc/kdbg/tls/ca.crt
//   node-name: node-a
//   dlv: /usr/lib/kdbg/delve/v1.26.2/dlv,/usr/lib/kdbg/delve/v1.27.2/dlv
//   host-root: /host
//   proc-root: /host/proc
//   state-dir: /var/lib/kdbg-agent
//   max-sessions: 16
//   lease-default: 10m          # absl durations: 30s, 10m, 1h30m
//   lease-max: 1h
//   allowed-client: [kdbg-controller]
//   health-listen: 0.0.0.0:7444 # empty: no HTTP endpoint
//   log-format: json            # text | json
//
// Errors come back as InvalidArgument naming the flag or key; --help is reported via `help`.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/defaults.h"

namespace kdbg::agent {

struct AgentConfig {
  std::string listen = absl::StrCat("0.0.0.0:", defaults::kAgentPort);
  std::string tls_cert;
  std::string tls_key;
  std::string tls_ca;
  std::string node_name;  // default: $NODE_NAME, else the host name
  // The bundled Delve binaries, comma-separated; the agent picks per target by its Go version
  // (agent/delve/delve_versions.h). Where the agent image installs them (scripts/delve's layout).
  std::string dlv = "/usr/lib/kdbg/delve/v1.26.2/dlv,/usr/lib/kdbg/delve/v1.27.2/dlv";
  std::string host_root = "/";
  std::string proc_root = "/proc";
  std::string state_dir = "/var/lib/kdbg-agent";
  std::vector<std::string> containerd_state_dirs;
  int max_sessions = 16;
  absl::Duration lease_default = defaults::kDefaultLease;
  absl::Duration lease_max = defaults::kAgentMaxLease;
  int max_hits_per_second = 0;
  // The most hits per second per tracepoint a Delve session may ask for (each hit stops the
  // target, ~1 ms here); a request above it gets this. 0: the engine's (DelveOptions, 1,000).
  int delve_max_hits_per_second = 0;
  // Events a session holds for a client that reads slowly; hits past it are dropped and counted
  // (agent/service/event_stream.h). 0: SessionManager::Options' default.
  int event_queue = 0;
  std::vector<std::string> allowed_clients = {defaults::kControllerClientName};
  std::string health_listen = absl::StrCat("0.0.0.0:", defaults::kAgentHealthPort);
  std::string log_format = "text";
  std::string log_level = "info";
  absl::Duration shutdown_grace = absl::Seconds(20);
  // Spawn `kdbg-agent guard`, which ends this agent's sessions safely if the agent dies uncleanly.
  bool guardian = true;
  // Accept targets named by host PID (tests, break-glass use on a node); off in deployments.
  bool allow_host_pid = false;
  bool help = false;
  std::string help_text;
};

// Parses `args` (without the "serve" word). Reads the --config file when given.
absl::StatusOr<AgentConfig> ParseAgentConfig(const std::vector<std::string>& args);

// Applies a YAML document (text) over `config`; exposed for tests.
absl::Status ApplyYamlConfig(const std::string& yaml_text, AgentConfig* config);

}  // namespace kdbg::agent
