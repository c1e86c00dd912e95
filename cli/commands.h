// The kdbg commands, as functions of parsed options and an injected environment (output streams,
// the interrupt pipe, how to open the kubeconfig and reach the controller). Each returns the
// process exit status: 0 on a clean end, 1 on an error (one line on stderr, and with -o json an
// "error" object on stdout), 130 after a second Ctrl-C.
//
// Threading: a command runs on the calling thread; trace and attach start helper threads (interrupt
// watcher, listener, one per tunnelled connection) and join them all before returning.
#pragma once

#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cli/cluster.h"
#include "cli/controller.h"
#include "cli/output.h"

namespace kdbg::cli {

struct GlobalOptions {
  std::string kubeconfig;
  std::string context;
  std::string controller;     // --controller, else $KDBG_CONTROLLER
  std::string controller_ca;  // --controller-ca, else $KDBG_CONTROLLER_CA
  std::string namespace_;     // -n
  OutputFormat format = OutputFormat::kText;
};

struct TargetOptions {
  std::string target;     // pod/NAME, NAME, deploy/NAME, statefulset/NAME, ... (cli/target.h)
  std::string container;  // -c
  std::string selector;   // -l: a label selector instead of TARGET
  int max_pods = 0;       // --max-pods: trace at most this many of the pods (0: all)
};

struct TraceCommandOptions {
  TargetOptions target;
  std::string init_file;
  absl::Duration duration = absl::ZeroDuration();
  int64_t max_hits = 0;          // a workload or selector: in total, over every pod
  int64_t max_hits_per_pod = 0;  // --max-hits-per-pod: a workload or selector, each pod's part
  // Hits per second a tracepoint may take before the agent clears it (--rate-limit); 0: agent's.
  int rate_limit = 0;
  // A workload or selector: hits per second relayed over every pod (--rate-limit-total); 0: none.
  int rate_limit_total = 0;
  std::string engine = "auto";  // auto, ebpf, delve
  bool no_returns = false;      // --no-returns: calls only (the eBPF engine's return probes off)
  // Upper bound on the session's life whatever happens (--lease); zero: the cluster's default.
  absl::Duration lease = absl::ZeroDuration();
  // --debug-binary: the unstripped binary of a stripped target's build (sent to its agent).
  std::string debug_binary;
  // Trace a target built with a Go outside the bundled Delve's range (--allow-unsupported-go).
  bool allow_unsupported_go = false;
  // Quick trace (cli/quick_trace.h), when no --init: every function matching `regexp`, each with
  // the `prints` (--print) and a stack of `stack_depth` frames (--stack); at most max_funcs.
  std::string regexp;
  std::vector<std::string> prints;
  int stack_depth = 0;
  int max_funcs = 20;
  // --stats (cli/trace_stats.h): a live view instead of one line per hit; redrawn in place when
  // stdout is a terminal (stats_terminal).
  bool stats = false;
  bool stats_terminal = false;
};

struct AttachCommandOptions {
  TargetOptions target;
  std::string listen = "127.0.0.1:0";
  bool headless = false;
  std::string debug_binary;           // as TraceCommandOptions::debug_binary
  bool allow_unsupported_go = false;  // as TraceCommandOptions
  // IDE configurations (cli/ide_config.h): write .vscode/launch.json (--vscode) and a GoLand run
  // configuration (--goland); the checkout to map the build's paths to (--source DIR).
  bool vscode = false;
  bool goland = false;
  std::string source;
};

struct CommandEnv {
  std::ostream* out = nullptr;
  std::ostream* err = nullptr;
  int interrupt_fd = -1;
  std::string cli_version;
  std::function<absl::StatusOr<std::unique_ptr<Cluster>>(const GlobalOptions&)> open_cluster;
  // Finds the controller (a port-forward unless --controller); `give_up` as EndpointOptions's.
  // Called from the main thread only (a port-forward's parent-death signal follows its thread).
  std::function<absl::StatusOr<Endpoint>(const GlobalOptions&, const std::vector<std::string>&,
                                         std::function<bool()> give_up)>
      find_controller;
  // How long Ctrl-C waits for the session's `ended` event before cancelling the stream.
  absl::Duration stop_grace = absl::Seconds(5);
  // attach: start `dlv connect` in the foreground (a terminal and dlv on the PATH); empty: don't.
  std::string dlv_path;
};

int RunTrace(const GlobalOptions& g, const TraceCommandOptions& o, const CommandEnv& env);
int RunAttach(const GlobalOptions& g, const AttachCommandOptions& o, const CommandEnv& env);
int RunResolve(const GlobalOptions& g, const TargetOptions& o, const CommandEnv& env);
struct SessionsCommandOptions {
  bool all_namespaces = false;  // -A
  std::string output;           // -o: "" (table), wide, json, yaml (cli/sessions_view.h)
  bool no_headers = false;      // --no-headers
};
int RunSessions(const GlobalOptions& g, const SessionsCommandOptions& o, const CommandEnv& env);
int RunStop(const GlobalOptions& g, const std::string& session_id, const CommandEnv& env);
int RunVersion(const GlobalOptions& g, const CommandEnv& env);

// `kdbg attach`'s instructions: the `dlv connect` command and a VS Code launch.json entry
// (`vscode_configuration`: the JSON object, cli/ide_config.h).
std::string AttachInstructions(const std::string& host, int port, const std::string& pod_ref,
                               const std::string& vscode_configuration);

// Parses HOST:PORT (port may be 0). InvalidArgument otherwise.
absl::Status ParseHostPort(const std::string& text, std::string* host, int* port);

}  // namespace kdbg::cli
