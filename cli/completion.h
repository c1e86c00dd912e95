// Shell completion: `kdbg completion bash|zsh|fish` prints a script that, on Tab, runs the hidden
// `kdbg __complete WORD... PARTIAL` and offers what it prints, one candidate per line:
//   commands and flags (from the command line's own definition, cli/app.cc), -o values, the
//   cluster's namespaces (-n), pods and workloads (TARGET: NAME, pod/NAME, deploy/NAME, sts/NAME,
//   ds/NAME), a pod's containers (-c), and session IDs (`kdbg stop`, when the controller's address
//   is known without a port-forward: --controller or $KDBG_CONTROLLER).
// The cluster is asked with the user's own kubeconfig credentials, for at most kCompletionBudget
// (the scripts also wrap the call in `timeout 2`): the shell never waits longer than a moment, and
// a slow or unreachable cluster just offers nothing.
//
//   $ source <(kdbg completion bash)     # ~/.bashrc
//   $ kdbg trace -n shop we<Tab>         -> web-0  web-1  deploy/web
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace kdbg::cli {

inline constexpr absl::Duration kCompletionBudget = absl::Seconds(1);

// The script for `shell` ("bash", "zsh", "fish"); InvalidArgument otherwise. `prog` is the command
// the user types ("kdbg"); the script completes it and kubectl-kdbg.
absl::StatusOr<std::string> CompletionScript(const std::string& shell, const std::string& prog);

// What the cluster and the controller can tell; every call may be slow or fail (then: empty).
class CompletionSource {
 public:
  virtual ~CompletionSource() = default;
  virtual std::string DefaultNamespace() = 0;
  virtual std::vector<std::string> Namespaces() = 0;
  virtual std::vector<std::string> Pods(const std::string& ns) = 0;
  // "deploy/web", "sts/db", "ds/agent": the workloads that own pods in `ns`.
  virtual std::vector<std::string> Workloads(const std::string& ns) = 0;
  virtual std::vector<std::string> Containers(const std::string& ns, const std::string& pod) = 0;
  virtual std::vector<std::string> Sessions() = 0;
};

// One command of the command line, as completion needs it.
struct CompletionCommand {
  std::string name;
  std::vector<std::string> flags;                               // "--duration", "-n", ...
  std::vector<std::string> value_flags;                         // those that take a value
  std::map<std::string, std::vector<std::string>> flag_values;  // "-o" -> {"text", "json"}
  std::vector<std::string> positionals;        // "TARGET", "REGEXP", "SESSION-ID", "SHELL"
  std::vector<std::string> positional_values;  // fixed values of the first positional (SHELL)
};
struct CompletionSpec {
  std::vector<CompletionCommand> commands;
  std::vector<std::string> global_flags;
  std::vector<std::string> global_value_flags;
};

// Candidates for the last word of `words` (the words after the program name; the last one is
// being typed, possibly ""), sorted, filtered by that prefix.
std::vector<std::string> Complete(const CompletionSpec& spec, const std::vector<std::string>& words,
                                  CompletionSource& source);

// The pods' workloads as kubectl names them, from pod names and the labels controllers set:
// pod-template-hash (Deployment: NAME-HASH-xxxxx), statefulset.kubernetes.io/pod-name
// (StatefulSet: NAME-ORDINAL), pod-template-generation (DaemonSet: NAME-xxxxx).
std::string WorkloadOfPod(const std::string& pod, const std::map<std::string, std::string>& labels);

}  // namespace kdbg::cli

namespace kdbg::cli {
struct GlobalOptions;
struct CommandEnv;
// `kdbg __complete WORD...`: prints Complete()'s candidates, one per line, asking the cluster
// (env.open_cluster) and, when g.controller is set, the controller, for at most `budget`; what is
// not known by then is left out. Always exits 0. With `cobra_directive` (run as
// kubectl_complete-kdbg, kubectl's plugin completion), a last line ":0" as cobra's scripts expect.
int RunComplete(const CompletionSpec& spec, const std::vector<std::string>& words,
                const GlobalOptions& g, const CommandEnv& env, bool cobra_directive,
                absl::Duration budget = kCompletionBudget);
}  // namespace kdbg::cli
