// Where the agent puts the processes that must outlive its container: the bundled Delve servers
// and the guardian. A container kill (the OOM killer's group kill, `runc kill --all`, the shim
// killing what is left when a hostPID container's first process exits, kubelet destroying a pod
// cgroup) signals every process of the container's cgroup at once; a Delve SIGKILLed with its
// tracepoints inserted leaves int3s in the target, which then dies (or freezes, if Delve's
// guardian dies first). So both run in a cgroup of their own next to the pods, not below the
// agent's container: `<node pod cgroup root>/kdbg-agent` in every mounted hierarchy (cgroup v1:
// one per controller plus name=systemd; v2: the one unified tree), for example
// `/sys/fs/cgroup/memory/kubepods/kdbg-agent` (`/kdbg-node-a/kubepods/kdbg-agent` on the
// one-machine cluster, whose kubelets have a `cgroupRoot`). docs/delve-engine.md, "If the agent's
// container is killed".
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace kdbg::agent {

// Creates `<NodePodCgroupRoot(self_cgroup)>/kdbg-agent` in every hierarchy mounted below
// `cgroup_fs` (the host's /sys/fs/cgroup as the agent sees it, e.g. /host/sys/fs/cgroup, which
// must be writable) and returns the `cgroup.procs` file of each: a process writing "0" to all of
// them leaves the agent's container cgroup (SpawnOptions::join_cgroup_procs). Idempotent. A
// hierarchy is a directory of cgroup_fs holding `cgroup.procs` (symlinks such as cpu ->
// cpu,cpuacct are skipped; a v2 mount is cgroup_fs itself). For cpuset, the new cgroup gets its
// parent's cpuset.cpus and cpuset.mems (v1 refuses tasks in a cpuset without them).
// `self_cgroup` is /proc/self/cgroup, for example
//   11:pids:/kdbg-node-a/kubepods/besteffort/pod<uid>/<container id>
//   0::/
// Returns an empty list (nothing to leave) when that names no pod cgroup (the agent is not in a
// pod: the sandbox, tests). Errors (FailedPrecondition) name the directory that could not be made
// or the hierarchy missing; the caller runs on without (docs say what that exposes).
absl::StatusOr<std::vector<std::string>> PrepareOutsideContainerCgroup(
    const std::string& cgroup_fs, absl::string_view self_cgroup);

}  // namespace kdbg::agent
