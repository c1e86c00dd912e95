// The controller's policy, read from a YAML file (all keys optional):
//
//   protectedNamespaces: [kube-system, kube-public, kube-node-lease]  # never debugged; the
//                                   # controller's own namespace is always added
//   defaultLease: 10m               # lease when the client asks for none
//   maxLease: 30m                   # longer requests are capped to this
//   maxSessionsPerUser: 3
//   maxSessions: 100                # in all, across users, on this controller
//   allowedScriptCommands: [trace, on, continue]   # script commands allowed; empty: any
//   allowedActions: [print]         # what may follow `on NAME`; empty: any
//   maxPodsPerSession: 10           # pods one `kdbg trace deploy/NAME` / `-l` session may span
//                                   # (default: common/defaults.h kMaxPodsPerSession)
//   maxDebugBinarySize: 512Mi       # largest `--debug-binary` upload (bytes, or Ki/Mi/Gi/k/M/G);
//                                   # 0 refuses every upload
//   livenessStopSharePercent: 50    # a stop (breakpoint, halt) may last this share of what the
//                                   # target container's liveness probe tolerates (kube/probes.h)
//                                   # before the agent resumes it; 1..90
//   attach: allowed                 # who may `kdbg attach` (a full debugger: memory writes,
//                                   # function calls, none of the script lists above apply):
//                                   # allowed: whoever may create the debugsession (the default);
//                                   # rbac: they also need `create` on debugsessions/attach for the
//                                   # pod (RBAC, per namespace); denied: nobody, trace only
//
// Scripts are judged with the agent's own parser (script/trace_script.h): an alias counts as its
// command (`t` is `trace`, `b` is `break`, `c` is `continue`, `condition` is `cond`; actions `p` is
// `print`, `bt` is `stack`); the policy's lists may use either spelling and are stored canonical.
// A word that is not part of the grammar is refused when the policy is parsed.
//
// Durations use Go syntax ("90s", "10m", "1h30m"). Parsing is pure; LoadPolicyFile reads the file.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/defaults.h"
#include "kube/probes.h"

namespace kdbg::controller {

// Who may open `kdbg attach` sessions (policy key `attach`).
enum class AttachRule { kAllowed, kRbac, kDenied };
// The policy word of `rule`: "allowed", "rbac", "denied".
absl::string_view AttachRuleWord(AttachRule rule);

struct Policy {
  std::vector<std::string> protected_namespaces = {"kube-system", "kube-public", "kube-node-lease"};
  absl::Duration default_lease = defaults::kDefaultLease;
  absl::Duration max_lease = defaults::kMaxLease;
  int max_sessions_per_user = 3;
  int max_sessions = 100;
  std::vector<std::string> allowed_script_commands;    // canonical commands; empty: any
  std::vector<std::string> allowed_actions;            // canonical `on` actions; empty: any
  int64_t max_debug_binary_size = int64_t{512} << 20;  // bytes; 0: uploads refused
  int liveness_stop_share_percent = kube::kDefaultStopSharePercent;
  int max_pods_per_session = defaults::kMaxPodsPerSession;
  AttachRule attach = AttachRule::kAllowed;
};

// `own_namespace` (kdbg's namespace) is added to the protected namespaces.
absl::StatusOr<Policy> ParsePolicy(absl::string_view yaml, const std::string& own_namespace);
absl::StatusOr<Policy> LoadPolicyFile(const std::string& path, const std::string& own_namespace);
// The defaults, plus `own_namespace` protected.
Policy DefaultPolicy(const std::string& own_namespace);

// PermissionDenied naming the namespace when it is protected.
absl::Status CheckNamespace(const Policy& policy, const std::string& ns);
// The lease to ask the agent for: `requested_ms` (0: the default) capped by the maximum.
int64_t EffectiveLeaseMs(const Policy& policy, int64_t requested_ms);
// Parses the script with the agent's grammar and judges each command. PermissionDenied
// "trace.dlv:3: command \"cond\" is not allowed by the kdbg policy (allowed: ...)" (an alias is
// named with its command: `command "b" (break)`); InvalidArgument with the parser's message for a
// script the agent would refuse (always parsed, restrictions or not: the grammar's bounds apply).
absl::Status CheckScript(const Policy& policy, absl::string_view script,
                         absl::string_view script_name);

// PermissionDenied when the policy allows no attach at all (`attach: denied`): "kdbg attach is
// turned off by the kdbg policy (attach: denied): ...". The `rbac` rule's SubjectAccessReview is
// the caller's (controller/auth.h kAttachSubresource).
absl::Status CheckAttachAllowed(const Policy& policy);

// ResourceExhausted naming the cap when `size` bytes exceed maxDebugBinarySize (or uploads are
// off); InvalidArgument for a size that is not positive.
absl::Status CheckDebugBinarySize(const Policy& policy, int64_t size, absl::string_view file_name);

// ResourceExhausted when a session over several pods names more than maxPodsPerSession pods:
// "deployment/web has 14 running pods; the kdbg policy allows at most 10 per session
// (maxPodsPerSession): choose fewer with --max-pods N or a narrower -l selector".
absl::Status CheckPodCount(const Policy& policy, int pods, absl::string_view selection);

// Counts running sessions per user and in all against the policy's limits. Thread-safe.
class SessionLimiter {
 public:
  explicit SessionLimiter(const Policy* policy) : policy_(policy) {}
  // ResourceExhausted when a limit is reached; otherwise counts one session for `user`, to be
  // given back with Release.
  absl::Status Acquire(const std::string& user);
  void Release(const std::string& user);
  int Running() const;

 private:
  const Policy* policy_;
  mutable absl::Mutex mu_;
  std::map<std::string, int> per_user_ ABSL_GUARDED_BY(mu_);
  int total_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace kdbg::controller
