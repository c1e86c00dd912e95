// A private containerd (own root, state and socket in a temp dir) running real runc containers
// with Kubernetes-like cgroup paths (/kubepods/besteffort/pod<UID>/<64 hex ID>), for integration
// tests. Everything it starts is stopped on destruction, also when a test fails: containers
// (task kill + rm, container rm), then containerd (SIGTERM), then any shim left serving our
// socket (by PID), the pod cgroups it created, and the temp dir.
//
// Needs root, containerd, ctr and runc (installed by scripts/deps). Not thread-safe.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "common/child_process.h"

namespace kdbg::testing {

struct ContainerSpec {
  std::string id;       // 64 hex; NewContainerId() makes one
  std::string pod_uid;  // cgroup parent /kubepods/besteffort/pod<pod_uid>
  // Files copied into the rootfs: (host path, path inside the rootfs, e.g. "/hello-world").
  std::vector<std::pair<std::string, std::string>> files;
  std::vector<std::string> args;  // the container's command
  std::vector<std::string> env;   // "KEY=VALUE"
};

class ContainerdFixture {
 public:
  // Whether this machine can run it (root, containerd, ctr, runc present).
  static bool Available();
  // Starts containerd and waits until it answers. Errors name what failed (log path included).
  static absl::StatusOr<std::unique_ptr<ContainerdFixture>> Start();
  ~ContainerdFixture();

  // Random 64-hex container ID / pod UID.
  static std::string NewContainerId();
  static std::string NewPodUid();

  // Creates the rootfs, runs the container detached (host network) and returns its init's host
  // PID (from containerd's init.pid).
  absl::StatusOr<pid_t> Run(const ContainerSpec& spec);
  // Kills and removes one container. OK if it is already gone.
  absl::Status Remove(const std::string& id);

  const std::string& dir() const { return dir_; }
  std::string state_dir() const { return dir_ + "/state"; }
  std::string socket() const { return dir_ + "/containerd.sock"; }
  std::string runc_state_json(const std::string& id) const {
    return "/run/containerd/runc/k8s.io/" + id + "/state.json";
  }

 private:
  explicit ContainerdFixture(std::string dir) : dir_(std::move(dir)) {}
  absl::StatusOr<std::string> Ctr(std::vector<std::string> args);

  std::string dir_;
  std::unique_ptr<ChildProcess> containerd_;
  std::vector<std::string> containers_;
  std::vector<std::string> pod_uids_;
};

}  // namespace kdbg::testing
