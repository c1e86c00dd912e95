#include "agent/service/agent_config.h"

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "agent/service/session_manager.h"
#include "common/status.h"
#include "yaml-cpp/yaml.h"

namespace kdbg::agent {
namespace {

absl::Status ParseDurationField(const std::string& text, const std::string& name,
                                absl::Duration* out) {
  if (!absl::ParseDuration(text, out) || *out <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, ": \"", text, "\" is not a positive duration (e.g. 30s, 10m, 1h)"));
  }
  return absl::OkStatus();
}

absl::Status Validate(AgentConfig* c) {
  if (c->log_format != "text" && c->log_format != "json") {
    return absl::InvalidArgumentError(
        absl::StrCat("--log-format must be text or json, not \"", c->log_format, "\""));
  }
  if (c->max_sessions < 1) return absl::InvalidArgumentError("--max-sessions must be at least 1");
  if (c->delve_max_hits_per_second < 0) {
    return absl::InvalidArgumentError(
        "--delve-max-hits-per-second must be 0 (the engine's ceiling, 1000) or more");
  }
  if (c->event_queue < 0 || c->event_queue > 1000000)
    return absl::InvalidArgumentError("--event-queue must be between 0 (the default) and 1000000");
  if (c->lease_default > c->lease_max) {
    return absl::InvalidArgumentError("--lease-default must not exceed --lease-max");
  }
  if (c->allowed_clients.empty())
    return absl::InvalidArgumentError("--allowed-client needs at least one identity");
  if (c->node_name.empty()) {
    const char* env = std::getenv("NODE_NAME");
    if (env != nullptr && *env != '\0') {
      c->node_name = env;
    } else {
      char host[256] = {};
      if (::gethostname(host, sizeof(host) - 1) == 0) c->node_name = host;
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ApplyYamlConfig(const std::string& yaml_text, AgentConfig* c) {
  static const std::set<std::string> kKnown = {"listen",
                                               "tls-cert",
                                               "tls-key",
                                               "tls-ca",
                                               "node-name",
                                               "dlv",
                                               "host-root",
                                               "proc-root",
                                               "state-dir",
                                               "containerd-state-dir",
                                               "max-sessions",
                                               "lease-default",
                                               "lease-max",
                                               "max-hits-per-second",
                                               "allowed-client",
                                               "health-listen",
                                               "log-format",
                                               "log-level",
                                               "shutdown-grace",
                                               "event-queue",
                                               "delve-max-hits-per-second"};
  try {
    YAML::Node root = YAML::Load(yaml_text);
    if (root.IsNull()) return absl::OkStatus();
    if (!root.IsMap())
      return absl::InvalidArgumentError(
          "the config file must be a YAML mapping of flag names to values");
    for (const auto& kv : root) {
      std::string key = kv.first.as<std::string>();
      if (kKnown.count(key) == 0) {
        return absl::InvalidArgumentError(absl::StrCat(
            "unknown config key \"", key, "\" (known: ", absl::StrJoin(kKnown, ", "), ")"));
      }
    }
    auto str = [&](const char* key, std::string* out) {
      if (root[key]) *out = root[key].as<std::string>();
    };
    auto list = [&](const char* key, std::vector<std::string>* out) {
      if (!root[key]) return;
      out->clear();
      if (root[key].IsSequence()) {
        for (const auto& v : root[key]) out->push_back(v.as<std::string>());
      } else {
        out->push_back(root[key].as<std::string>());
      }
    };
    str("listen", &c->listen);
    str("tls-cert", &c->tls_cert);
    str("tls-key", &c->tls_key);
    str("tls-ca", &c->tls_ca);
    str("node-name", &c->node_name);
    str("dlv", &c->dlv);
    str("host-root", &c->host_root);
    str("proc-root", &c->proc_root);
    str("state-dir", &c->state_dir);
    list("containerd-state-dir", &c->containerd_state_dirs);
    if (root["max-sessions"]) c->max_sessions = root["max-sessions"].as<int>();
    if (root["max-hits-per-second"]) c->max_hits_per_second = root["max-hits-per-second"].as<int>();
    if (root["event-queue"]) c->event_queue = root["event-queue"].as<int>();
    if (root["delve-max-hits-per-second"]) {
      c->delve_max_hits_per_second = root["delve-max-hits-per-second"].as<int>();
    }
    list("allowed-client", &c->allowed_clients);
    str("health-listen", &c->health_listen);
    str("log-format", &c->log_format);
    str("log-level", &c->log_level);
    for (auto [key, field] :
         {std::pair<const char*, absl::Duration*>{"lease-default", &c->lease_default},
          {"lease-max", &c->lease_max},
          {"shutdown-grace", &c->shutdown_grace}}) {
      if (root[key])
        KDBG_RETURN_IF_ERROR(ParseDurationField(root[key].as<std::string>(), key, field));
    }
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("config file: ", e.what()));
  }
  return absl::OkStatus();
}

absl::StatusOr<AgentConfig> ParseAgentConfig(const std::vector<std::string>& args) {
  AgentConfig c;
  CLI::App app{"kdbg-agent serve: the node agent's gRPC service (mutual TLS), health and metrics",
               "kdbg-agent serve"};
  std::string config_file, lease_default, lease_max, shutdown_grace;
  app.add_option("--config", config_file, "YAML file with any of these flags as keys (flags win)");
  app.add_option("--listen", c.listen, "gRPC listen address (host:port)");
  app.add_option("--tls-cert", c.tls_cert, "this agent's certificate (PEM)");
  app.add_option("--tls-key", c.tls_key, "its private key (PEM)");
  app.add_option("--tls-ca", c.tls_ca, "CA that client certificates must chain to (PEM)");
  app.add_option("--node-name", c.node_name,
                 "this node's name (default $NODE_NAME, else the host name)");
  app.add_option(
      "--dlv", c.dlv,
      "the bundled Delve binaries, comma-separated (picked per target by its Go version)");
  app.add_option("--host-root", c.host_root, "the node's root as the agent sees it");
  app.add_option("--proc-root", c.proc_root, "the node's /proc as the agent sees it");
  app.add_option("--state-dir", c.state_dir,
                 "directory for session state (recovery after a restart)");
  app.add_option("--containerd-state-dir", c.containerd_state_dirs,
                 "extra containerd state directory (repeatable)");
  app.add_option("--max-sessions", c.max_sessions, "concurrent sessions allowed on this node");
  app.add_option("--lease-default", lease_default,
                 "session lease when the request sets none (e.g. 10m)");
  app.add_option("--lease-max", lease_max, "longest lease a request may ask for (e.g. 1h)");
  app.add_option("--max-hits-per-second", c.max_hits_per_second,
                 "default hit-rate limit per session (0: engine default)");
  app.add_option("--delve-max-hits-per-second", c.delve_max_hits_per_second,
                 "most hits per second per tracepoint a Delve session may ask (0: 1000)");
  app.add_option("--event-queue", c.event_queue,
                 absl::StrCat("events a session holds for a slow client before it drops hits (0: ",
                              SessionManager::Options{}.event_queue_capacity, ")"));
  app.add_option("--allowed-client", c.allowed_clients,
                 "client certificate identity (CN or SAN) admitted (repeatable)");
  app.add_option("--health-listen", c.health_listen,
                 "HTTP address for /healthz, /readyz, /metrics (empty: off)");
  app.add_option("--log-format", c.log_format, "text or json");
  app.add_option("--log-level", c.log_level, "debug, info, warning or error");
  app.add_option("--shutdown-grace", shutdown_grace,
                 "on SIGTERM, how long sessions get to end safely");
  bool no_guardian = false;
  app.add_flag("--allow-host-pid", c.allow_host_pid,
               "accept targets named by a bare host PID (any process on the node); off by default");
  app.add_flag(
      "--no-guardian", no_guardian,
      "do not start the guardian process that ends sessions safely if the agent is killed");
  app.set_help_flag("-h,--help", "print this help");

  std::vector<std::string> reversed(args.rbegin(), args.rend());
  try {
    app.parse(reversed);
  } catch (const CLI::CallForHelp&) {
    c.help = true;
    c.help_text = app.help();
    return c;
  } catch (const CLI::ParseError& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(e.what(), " (kdbg-agent serve --help lists the flags)"));
  }
  if (!config_file.empty()) {
    std::ifstream in(config_file);
    if (!in) return absl::NotFoundError(absl::StrCat("cannot read --config file ", config_file));
    std::stringstream ss;
    ss << in.rdbuf();
    // Flags win over the file: apply the file to a copy of the defaults, then re-apply the flags.
    AgentConfig from_file;
    KDBG_RETURN_IF_ERROR(ApplyYamlConfig(ss.str(), &from_file));
    AgentConfig defaults;
    auto pick = [&](auto& flag_value, const auto& file_value, const auto& default_value,
                    const char* name) {
      if (app.count(name) == 0 && !(file_value == default_value)) flag_value = file_value;
    };
    pick(c.listen, from_file.listen, defaults.listen, "--listen");
    pick(c.tls_cert, from_file.tls_cert, defaults.tls_cert, "--tls-cert");
    pick(c.tls_key, from_file.tls_key, defaults.tls_key, "--tls-key");
    pick(c.tls_ca, from_file.tls_ca, defaults.tls_ca, "--tls-ca");
    pick(c.node_name, from_file.node_name, defaults.node_name, "--node-name");
    pick(c.dlv, from_file.dlv, defaults.dlv, "--dlv");
    pick(c.host_root, from_file.host_root, defaults.host_root, "--host-root");
    pick(c.proc_root, from_file.proc_root, defaults.proc_root, "--proc-root");
    pick(c.state_dir, from_file.state_dir, defaults.state_dir, "--state-dir");
    pick(c.containerd_state_dirs, from_file.containerd_state_dirs, defaults.containerd_state_dirs,
         "--containerd-state-dir");
    pick(c.max_sessions, from_file.max_sessions, defaults.max_sessions, "--max-sessions");
    pick(c.max_hits_per_second, from_file.max_hits_per_second, defaults.max_hits_per_second,
         "--max-hits-per-second");
    pick(c.event_queue, from_file.event_queue, defaults.event_queue, "--event-queue");
    pick(c.delve_max_hits_per_second, from_file.delve_max_hits_per_second,
         defaults.delve_max_hits_per_second, "--delve-max-hits-per-second");
    pick(c.allowed_clients, from_file.allowed_clients, defaults.allowed_clients,
         "--allowed-client");
    pick(c.health_listen, from_file.health_listen, defaults.health_listen, "--health-listen");
    pick(c.log_format, from_file.log_format, defaults.log_format, "--log-format");
    pick(c.log_level, from_file.log_level, defaults.log_level, "--log-level");
    c.lease_default = from_file.lease_default;
    c.lease_max = from_file.lease_max;
    c.shutdown_grace = from_file.shutdown_grace;
  }
  if (!lease_default.empty())
    KDBG_RETURN_IF_ERROR(ParseDurationField(lease_default, "--lease-default", &c.lease_default));
  if (!lease_max.empty())
    KDBG_RETURN_IF_ERROR(ParseDurationField(lease_max, "--lease-max", &c.lease_max));
  if (!shutdown_grace.empty())
    KDBG_RETURN_IF_ERROR(ParseDurationField(shutdown_grace, "--shutdown-grace", &c.shutdown_grace));
  if (no_guardian) c.guardian = false;
  KDBG_RETURN_IF_ERROR(Validate(&c));
  return c;
}

}  // namespace kdbg::agent
