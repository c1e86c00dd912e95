// The real Resolver: the /proc reader (common/proc_reader.h: the live /proc, the host's /proc
// mounted elsewhere, or a recorded tree), runtime state files under a host root, and the Go-binary
// inspector (agent/gobinary). See resolver.h for the contract. It is the only component that
// inspects a target: engines take its ResolvedTarget (PID, start time, binary facts).
//
// How a container ID becomes a PID (each step adds one line of `evidence`; steps 1 to 4 are the
// functions of resolve_steps.h, each with its own test):
//   1. cgroup: one pass over every process's /proc/PID/cgroup; a process belongs to the container
//      when any line's path names it (container_ref.h lists the layouts). Monitors (crio-conmon-)
//      are noted, never targets.
//   2. runtime state files (runtime_state.h): the init PID each runtime recorded, checked against
//      the process's start time when the file has one (runc, crun), so a reused PID is rejected.
//      When no cgroup line names the container (private cgroup namespace) the init PID from these
//      files, plus the processes sharing its cgroup and descending from it, are the container.
//   3. shim ancestry: the init's parent: containerd-shim-runc-v2 (its -id may be the pod's sandbox,
//      not the container), docker-containerd-shim (names the container in its work dir), conmon;
//      containerd-shim-runsc-v1 / -kata-v2 mean a sandboxed runtime (not debuggable from the host).
//   4. the target: the init if it is a Go program, else its single Go descendant; `pause`,
//      shims and monitors never are. Several Go candidates: FailedPrecondition listing them. A
//      container still starting (a member is still `runc init`, itself a Go program) is
//      Unavailable: retry, never a target.
//   (then: the container must be one of this node's pods, see ResolverOptions::only_own_node_pods)
//   5. preconditions, each its own `problem`: zombie, not Go, Go newer than Delve supports, no
//      DWARF, already traced (names the tracer), Yama ptrace_scope, missing CAP_SYS_PTRACE.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "agent/gobinary/go_binary.h"
#include "agent/resolver/resolver.h"
#include "common/proc_reader.h"

namespace kdbg::agent {

// What the bundled Delve(s) say about one Go version (fills ResolvedTarget's delve_version,
// supported_go, go_supported, go_support_problem).
struct GoVersionCheck {
  bool supported = true;
  std::string delve_version;  // the Delve that would attach: "1.27.2"
  std::string supported_go;   // "Go 1.24-1.27 (Delve 1.26.2: Go 1.24-1.26, ...)"
  std::string problem;        // when !supported: what to do
};

struct ResolverOptions {
  // The /proc to read: "/proc", the host's /proc mounted elsewhere, or a recorded tree.
  std::string proc_root = "/proc";
  // The node's root as the agent sees it ("/", or e.g. "/host" when mounted into the pod).
  std::string host_root = "/";
  std::string node_name;
  // What the bundled Delve(s) say about a Go version (the agent wires in agent/delve's
  // CheckGoSupport); unset: no check.
  std::function<GoVersionCheck(const std::string& go_version)> check_go_version;
  // Extra containerd state directories (containerd's `state = ...`), absolute.
  std::vector<std::string> containerd_state_dirs;
  // Resolve only processes of this node's pods: those below the pod cgroup root that the
  // resolving process's own cgroup (<proc_root>/self/cgroup) names (container_ref.h,
  // NodePodCgroupRoot). On a real node every pod is below it; on one machine hosting several
  // kubelets (each with its own `cgroupRoot`), an agent refuses the other nodes' containers. No
  // effect when the resolver does not run in a pod (no "kubepods" in its own cgroup).
  bool only_own_node_pods = true;
  // Overrides for tests; when null, built from the fields above.
  std::shared_ptr<ProcReader> proc;
  std::shared_ptr<gobinary::Inspector> binary_inspector;
};

std::unique_ptr<Resolver> NewResolver(ResolverOptions options);

// Why no process on this node can be debugged by this agent, from `proc`'s
// sys/kernel/yama/ptrace_scope ("3": ptrace disabled until reboot; absent without Yama) and
// self/status ("CapEff:\t00000000a80425fb": CAP_SYS_PTRACE is bit 19); empty when nothing rules
// it out (or the files cannot be read). Each target's own problems (another UID, already traced)
// are Resolve's.
std::string NodePtraceProblem(ProcReader& proc);

// The inspector's facts as BinaryInfo (everything but `path`): what Resolve reports for a target,
// and what the agent checks an uploaded debug binary with.
kdbg::v1::BinaryInfo ToBinaryInfo(const gobinary::GoBinaryFacts& facts);

}  // namespace kdbg::agent
