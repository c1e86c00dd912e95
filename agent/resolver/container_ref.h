// Container IDs as Kubernetes reports them, and where they appear in /proc/PID/cgroup lines.
//
// Pure functions over strings; no I/O. The layouts recognised, each matched on one path segment,
// scanning segments from the rightmost (the container's own cgroup is the deepest that names it;
// anything below it, e.g. ".../<id>/init.scope", belongs to the container too):
//
//   cgroupfs driver (containerd, Docker, CRI-O with cgroup_manager=cgroupfs), v1 or v2:
//     11:pids:/kubepods/besteffort/poda36d0c1d-0b26-4451-8d80-9c195e004afa/5dd96d53...fc61
//     1:name=systemd:/kubepods/burstable/pod2c48.../crio-9bca8d63...5961
//   systemd driver:
//     0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod9493..._006.slice/cri-containerd-25d0...ad26.scope
//     12:hugetlb:/kubepods.slice/.../crio-7a1fd6fe...3f9e.scope         (CRI-O, runc or crun)
//     11:hugetlb:/kubepods.slice/.../docker-9bca8d63...5961.scope      (Docker, cri-dockerd)
//   containerd 1.4 SystemdCgroup colon form:
//     11:pids:/system.slice/containerd.service/kubepods-besteffort-pod2105..._bbd.slice:cri-containerd:d3d8...003e
//   nested node (kind): the node's own container comes first, the pod's container last:
//     12:pids:/docker/9352...2d26/kubepods/besteffort/poda283.../09bc...f1e6
//   private cgroup namespace (relative to the reader's namespace root):
//     0::/../crio-09bc...f1e6.scope        0::/../../kubepods-...slice/docker-2cc6...547f.scope
//   CRI-O's monitor, never a target:      .../crio-conmon-<id>.scope
// Hybrid hosts: only some lines may name the container (e.g. "0::/system.slice/crio.service");
// one naming line is enough. A line "0::/" names nothing (private namespace): other sources
// (runtime state files) must then be used.
#pragma once

#include <optional>
#include <string>
#include <vector>
#include "absl/strings/string_view.h"

#include "absl/status/statusor.h"

namespace kdbg::agent {

struct ContainerRef {
  std::string runtime;  // "containerd", "cri-o", "docker", or "" for a bare ID
  std::string id;       // lower-case hex, 12..64 characters (Kubernetes always gives 64)
};

// Parses "containerd://<hex>", "cri-o://<hex>", "docker://<hex>" or a bare hex ID.
// InvalidArgument (naming the accepted forms) for anything else.
absl::StatusOr<ContainerRef> ParseContainerRef(absl::string_view text);

struct CgroupLine {
  std::string hierarchy;    // "11", "0"
  std::string controllers;  // "pids", "cpu,cpuacct", "name=systemd", "" (v2)
  std::string path;         // "/kubepods/besteffort/pod.../<id>"
};

// Parses /proc/PID/cgroup ("hierarchy-ID:controller-list:cgroup-path" per line). Malformed lines
// are skipped (a path may itself contain ':', only the first two separate fields).
std::vector<CgroupLine> ParseCgroupFile(absl::string_view text);

enum class CgroupRole { kContainer, kMonitor };

struct CgroupMatch {
  std::string id;       // the container ID the segment names
  std::string runtime;  // "containerd", "cri-o", "docker", "" when the layout does not say
  std::string layout;   // the table entry that matched: "cgroupfs", "systemd cri-containerd", ...
  CgroupRole role = CgroupRole::kContainer;
  std::string pod_uid;  // from a "pod<uid>" / "-pod<uid>.slice" segment, dashes restored; may be ""
};

// The container named by one cgroup path, matched from its rightmost segment; nullopt if none.
std::optional<CgroupMatch> MatchCgroupPath(absl::string_view path);

// The first line of `text` (a whole cgroup file) naming a container; nullopt if none does.
std::optional<CgroupMatch> MatchCgroupFile(absl::string_view text);

// True when `id` (full or prefix) names the same container as `full_id`.
bool SameContainerId(absl::string_view wanted, absl::string_view full_id);

// Whether a cgroup file says the reader is in a private cgroup namespace whose root is the
// container ("0::/" only, or every line "/").
bool CgroupIsNamespaceRoot(absl::string_view text);

// The pod cgroup root of the node a process runs on, from that process's own cgroup file (the
// agent's /proc/self/cgroup): the path up to and including its first segment that starts with
// "kubepods" ("/kubepods", "/kubepods.slice", "/kdbg-node-a/kubepods" under a kubelet
// `cgroupRoot`, "/docker/<node>/kubepods" in a kind node), from the first line that has one.
// "" when no line has one (not a pod, or a private cgroup namespace: "0::/").
std::string NodePodCgroupRoot(absl::string_view self_cgroup);

// True when a line of `cgroup_file` has a path equal to `root` or below it. Every pod of a node
// lies below that node's pod cgroup root; pods of another kubelet sharing the machine do not.
bool CgroupFileUnder(absl::string_view cgroup_file, absl::string_view root);

}  // namespace kdbg::agent
