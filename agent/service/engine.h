// The engine behind `kdbg-agent serve`: the real Resolver and Delve session factory, built from the
// configuration. Kept apart from serve_command.cc so the service library itself depends only on
// the interfaces (agent/resolver/resolver.h, agent/delve/debug_session.h).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "agent/delve/debug_session.h"
#include "agent/resolver/resolver.h"
#include "agent/service/agent_config.h"

namespace kdbg::agent {

struct Engine {
  std::unique_ptr<Resolver> resolver;
  std::unique_ptr<DebugSessionFactory> factory;
  // Ends what a previous agent left behind (Delve servers still attached) and records each end in
  // `recovered` (recovered_sessions.h) with `by` (who ended it: "the agent's guardian", "the
  // restarted agent") in its message; returns how many.
  std::function<int(const std::string& by)> recover;
  // Where recovered sessions' ends are kept: <state_dir>/recovered.
  std::string recovered_dir;
  std::string delve_version;  // "1.20.2", or empty when `dlv version` failed
  // ELF facts of a file (Go version, build ID, DWARF): checks `--debug-binary` uploads.
  std::function<absl::StatusOr<kdbg::v1::BinaryInfo>(const std::string& path)> inspect_binary;
  // The cgroup.procs files of the cgroup outside the agent's container where Delve and the
  // guardian run (agent/service/agent_cgroup.h); empty when the agent is not in a pod or could
  // not create it (then logged: a container kill takes Delve and the guardian with it).
  std::vector<std::string> outside_cgroup_procs;
  // Whether the agent can debug, for /readyz and Version: CheckAgentReady (Delve, /proc) and
  // ptrace permitted (agent/resolver NodePtraceProblem: CAP_SYS_PTRACE, and
  // kernel.yama.ptrace_scope below 3 where Yama exists). FailedPrecondition saying what to do.
  std::function<absl::Status()> ready;
  // Why the eBPF engine cannot run on this node (agent/ebpf CheckNodeSupport), or empty. Not a
  // readiness condition: Delve still debugs.
  std::function<std::string()> ebpf_problem;
  // The functions of a resolved target's executable matching a query (`kdbg funcs`, quick trace):
  // <proc_root>/PID/exe through the Go-binary inspector (agent/gobinary/function_match.h).
  std::function<absl::StatusOr<kdbg::v1::FunctionList>(const kdbg::v1::ResolvedTarget&,
                                                       const kdbg::v1::FunctionQuery&)>
      list_functions;
};

absl::StatusOr<Engine> MakeEngine(const AgentConfig& config);

}  // namespace kdbg::agent
