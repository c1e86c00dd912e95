#include "controller/policy.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/byte_size.h"
#include "common/status.h"
#include "script/trace_script.h"
#include "yaml-cpp/yaml.h"

namespace kdbg::controller {
namespace {

bool Contains(const std::vector<std::string>& v, absl::string_view s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

absl::Status ParseDurationKey(const YAML::Node& root, const char* key, absl::Duration* out) {
  if (!root[key]) return absl::OkStatus();
  std::string text = root[key].as<std::string>();
  absl::Duration d;
  if (!absl::ParseDuration(text, &d) || d <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("policy: ", key, ": \"", text, "\" is not a positive duration like 10m"));
  }
  *out = d;
  return absl::OkStatus();
}

// Policy lists name trace-script words; aliases ("t", "bt") become the canonical words the parser
// reports, so `[t]` allows `trace` and `[trace]` allows `t`. Unknown words are refused (a typo
// would otherwise forbid a command silently).
absl::Status Canonicalize(const char* key, std::string (*canonical)(absl::string_view),
                          std::vector<std::string>* words) {
  std::vector<std::string> out;
  for (const std::string& w : *words) {
    std::string c = canonical(w);
    if (c.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("policy: ", key, ": \"", w,
                                                     "\" is not a trace-script word (see ",
                                                     "docs/trace-scripts.md)"));
    }
    if (!Contains(out, c)) out.push_back(std::move(c));
  }
  *words = std::move(out);
  return absl::OkStatus();
}

absl::StatusOr<Policy> ParseYaml(absl::string_view yaml, const std::string& own_namespace) {
  Policy p;
  YAML::Node root = YAML::Load(std::string(yaml));
  if (root && !root.IsNull() && !root.IsMap()) {
    return absl::InvalidArgumentError("policy: the document must be a mapping of keys");
  }
  if (root["protectedNamespaces"]) {
    p.protected_namespaces = root["protectedNamespaces"].as<std::vector<std::string>>();
  }
  if (absl::Status s = ParseDurationKey(root, "defaultLease", &p.default_lease); !s.ok()) return s;
  if (absl::Status s = ParseDurationKey(root, "maxLease", &p.max_lease); !s.ok()) return s;
  if (root["maxSessionsPerUser"]) p.max_sessions_per_user = root["maxSessionsPerUser"].as<int>();
  if (root["maxSessions"]) p.max_sessions = root["maxSessions"].as<int>();
  if (root["maxPodsPerSession"]) p.max_pods_per_session = root["maxPodsPerSession"].as<int>();
  if (root["allowedScriptCommands"]) {
    p.allowed_script_commands = root["allowedScriptCommands"].as<std::vector<std::string>>();
  }
  if (root["allowedActions"])
    p.allowed_actions = root["allowedActions"].as<std::vector<std::string>>();
  if (root["maxDebugBinarySize"]) {
    std::string text = root["maxDebugBinarySize"].as<std::string>();
    absl::StatusOr<int64_t> size = ParseByteSize(text);
    if (!size.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("policy: maxDebugBinarySize: ", size.status().message()));
    }
    p.max_debug_binary_size = *size;
  }
  if (root["livenessStopSharePercent"]) {
    p.liveness_stop_share_percent = root["livenessStopSharePercent"].as<int>();
    if (p.liveness_stop_share_percent < 1 || p.liveness_stop_share_percent > 90) {
      return absl::InvalidArgumentError(
          absl::StrCat("policy: livenessStopSharePercent: ", p.liveness_stop_share_percent,
                       " is not a share from 1 to 90 (percent of the liveness probe's budget)"));
    }
  }
  if (root["attach"]) {
    const std::string word = root["attach"].as<std::string>();
    bool known = false;
    for (AttachRule r : {AttachRule::kAllowed, AttachRule::kRbac, AttachRule::kDenied}) {
      if (word == AttachRuleWord(r)) {
        p.attach = r;
        known = true;
      }
    }
    if (!known) {
      return absl::InvalidArgumentError(
          absl::StrCat("policy: attach: \"", word, "\" is not one of allowed, rbac, denied"));
    }
  }
  for (const auto& it : root) {
    static const char* kKnown[] = {"protectedNamespaces",
                                   "defaultLease",
                                   "maxLease",
                                   "maxSessionsPerUser",
                                   "maxSessions",
                                   "allowedScriptCommands",
                                   "allowedActions",
                                   "maxDebugBinarySize",
                                   "livenessStopSharePercent",
                                   "maxPodsPerSession",
                                   "attach"};
    std::string key = it.first.as<std::string>();
    if (std::find(std::begin(kKnown), std::end(kKnown), key) == std::end(kKnown)) {
      return absl::InvalidArgumentError(absl::StrCat("policy: unknown key \"", key, "\""));
    }
  }
  KDBG_RETURN_IF_ERROR(
      Canonicalize("allowedScriptCommands", &script::CanonicalCommand, &p.allowed_script_commands));
  KDBG_RETURN_IF_ERROR(
      Canonicalize("allowedActions", &script::CanonicalAction, &p.allowed_actions));
  if (p.max_sessions_per_user < 1 || p.max_sessions < 1) {
    return absl::InvalidArgumentError("policy: session limits must be at least 1");
  }
  if (p.max_pods_per_session < 1) {
    return absl::InvalidArgumentError("policy: maxPodsPerSession must be at least 1");
  }
  if (p.default_lease > p.max_lease) p.default_lease = p.max_lease;
  if (!own_namespace.empty() && !Contains(p.protected_namespaces, own_namespace)) {
    p.protected_namespaces.push_back(own_namespace);
  }
  return p;
}

}  // namespace

absl::string_view AttachRuleWord(AttachRule rule) {
  switch (rule) {
    case AttachRule::kAllowed:
      return "allowed";
    case AttachRule::kRbac:
      return "rbac";
    case AttachRule::kDenied:
      return "denied";
  }
  return "allowed";
}

Policy DefaultPolicy(const std::string& own_namespace) {
  Policy p;
  if (!own_namespace.empty() && !Contains(p.protected_namespaces, own_namespace)) {
    p.protected_namespaces.push_back(own_namespace);
  }
  return p;
}

absl::StatusOr<Policy> ParsePolicy(absl::string_view yaml, const std::string& own_namespace) {
  try {
    return ParseYaml(yaml, own_namespace);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("policy: ", e.what()));
  }
}

absl::StatusOr<Policy> LoadPolicyFile(const std::string& path, const std::string& own_namespace) {
  std::ifstream in(path);
  if (!in) {
    return absl::NotFoundError(
        absl::StrCat("cannot read the policy file ", path, ": check --policy"));
  }
  std::stringstream ss;
  ss << in.rdbuf();
  absl::StatusOr<Policy> p = ParsePolicy(ss.str(), own_namespace);
  if (!p.ok())
    return absl::Status(p.status().code(), absl::StrCat(path, ": ", p.status().message()));
  return p;
}

absl::Status CheckNamespace(const Policy& policy, const std::string& ns) {
  if (Contains(policy.protected_namespaces, ns)) {
    return absl::PermissionDeniedError(absl::StrCat(
        "namespace \"", ns, "\" is protected by the kdbg policy and can never be debugged"));
  }
  return absl::OkStatus();
}

absl::Status CheckAttachAllowed(const Policy& policy) {
  if (policy.attach != AttachRule::kDenied) return absl::OkStatus();
  return absl::PermissionDeniedError(
      "kdbg attach is turned off by the kdbg policy (attach: denied): trace the service with "
      "`kdbg trace` instead, or ask the cluster's kdbg admins");
}

absl::Status CheckDebugBinarySize(const Policy& policy, int64_t size, absl::string_view file_name) {
  std::string name =
      file_name.empty() ? "the debug binary" : absl::StrCat("debug binary ", file_name);
  if (size <= 0) {
    return absl::InvalidArgumentError(absl::StrCat(name, ": the upload announced no size"));
  }
  if (policy.max_debug_binary_size <= 0) {
    return absl::ResourceExhaustedError(
        "debug binary uploads are turned off by the kdbg policy (maxDebugBinarySize: 0)");
  }
  if (size > policy.max_debug_binary_size) {
    return absl::ResourceExhaustedError(absl::StrCat(
        name, " is ", HumanSize(size), ", larger than the kdbg policy's cap of ",
        HumanSize(policy.max_debug_binary_size),
        " (maxDebugBinarySize); nothing was uploaded and no session started: ask the cluster's "
        "kdbg admins to raise the cap"));
  }
  return absl::OkStatus();
}

int64_t EffectiveLeaseMs(const Policy& policy, int64_t requested_ms) {
  int64_t max_ms = absl::ToInt64Milliseconds(policy.max_lease);
  if (requested_ms <= 0) return std::min(absl::ToInt64Milliseconds(policy.default_lease), max_ms);
  return std::min(requested_ms, max_ms);
}

absl::Status CheckScript(const Policy& policy, absl::string_view script,
                         absl::string_view script_name) {
  std::string name = script_name.empty() ? "script" : std::string(script_name);
  // The agent's own grammar, always: a script the agent would refuse (malformed, or past the
  // grammar's bounds: 64 KiB, 100 tracepoints, 1 KiB expressions) is refused here with the same
  // message, before any pod is read or any agent is called; aliases (t, b, c, p, bt, condition)
  // are judged as the commands they are.
  KDBG_ASSIGN_OR_RETURN(script::TraceScript parsed, script::ParseTraceScript(script, name));
  if (policy.allowed_script_commands.empty() && policy.allowed_actions.empty()) {
    return absl::OkStatus();
  }
  for (const script::ScriptCommand& c : parsed.commands) {
    if (!policy.allowed_script_commands.empty() &&
        !Contains(policy.allowed_script_commands, c.command)) {
      std::string alias = c.word == c.command ? "" : absl::StrCat(" (", c.command, ")");
      return absl::PermissionDeniedError(
          absl::StrCat(name, ":", c.line, ": command \"", c.word, "\"", alias,
                       " is not allowed by the kdbg policy (allowed: ",
                       absl::StrJoin(policy.allowed_script_commands, ", "), ")"));
    }
    if (c.command == "on" && !policy.allowed_actions.empty() &&
        !Contains(policy.allowed_actions, c.action)) {
      return absl::PermissionDeniedError(
          absl::StrCat(name, ":", c.line, ": \"on ... ", c.action_word,
                       "\" is not allowed by the kdbg policy (allowed: ",
                       absl::StrJoin(policy.allowed_actions, ", "), ")"));
    }
  }
  return absl::OkStatus();
}

absl::Status SessionLimiter::Acquire(const std::string& user) {
  absl::MutexLock lock(&mu_);
  if (total_ >= policy_->max_sessions) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "the controller already runs ", total_, " debug sessions (policy maxSessions); try later"));
  }
  int& mine = per_user_[user];
  if (mine >= policy_->max_sessions_per_user) {
    return absl::ResourceExhaustedError(
        absl::StrCat("user \"", user, "\" already has ", mine,
                     " debug sessions (policy maxSessionsPerUser); end one with `kdbg stop`"));
  }
  ++mine;
  ++total_;
  return absl::OkStatus();
}

void SessionLimiter::Release(const std::string& user) {
  absl::MutexLock lock(&mu_);
  auto it = per_user_.find(user);
  if (it == per_user_.end()) return;
  if (--it->second <= 0) per_user_.erase(it);
  --total_;
}

int SessionLimiter::Running() const {
  absl::MutexLock lock(&mu_);
  return total_;
}

absl::Status CheckPodCount(const Policy& policy, int pods, absl::string_view selection) {
  if (pods <= policy.max_pods_per_session) return absl::OkStatus();
  return absl::ResourceExhaustedError(absl::StrCat(selection, " has ", pods,
                                                   " running pods; the kdbg policy allows at most ",
                                                   policy.max_pods_per_session,
                                                   " per session (maxPodsPerSession): choose fewer "
                                                   "with --max-pods N or a narrower -l selector"));
}

}  // namespace kdbg::controller
