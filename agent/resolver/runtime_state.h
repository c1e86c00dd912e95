// What the container runtimes' own state files say about a container, read under a host root
// (the node's / mounted into the agent, or a recorded tree). Every file is optional; each one
// found becomes one StateFact. Paths, relative to the host root (<ns> is any namespace dir):
//
//   containerd  run/containerd/io.containerd.runtime.v2.task/<ns>/<id>/init.pid   "4242"
//               run/containerd/io.containerd.runtime.v1.linux/<ns>/<id>/init.pid
//               run/docker/containerd/daemon/io.containerd.runtime.v2.task/moby/<id>/init.pid
//               (plus any extra containerd state dirs given, e.g. a private containerd's)
//   runc        run/containerd/runc/<ns>/<id>/state.json, run/runc/<id>/state.json,
//               run/docker/runtime-runc/moby/<id>/state.json:
//                 {"id":"<id>","init_process_pid":4242,"init_process_start":1234567,...}
//   crun        run/crun/<id>/status:  {"pid":4242,"process-start-time":1234567,...}
//   CRI-O       {run,var/lib}/containers/storage/overlay-containers/<id>/userdata/pidfile "4242"
//               .../userdata/conmon.pid (the monitor: never a target)
//   Docker      var/lib/docker/containers/<id>/config.v2.json  {"State":{"Pid":4242,...},...}
//   sandboxes   run/containerd/runsc/<ns>/<id> (gVisor), run/kata-containers/<id>,
//               run/vc/sbs/<id> (Kata): the processes are not the host's to debug.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace kdbg::agent {

struct StateFact {
  std::string source;        // the file read, relative to the host root
  std::string runtime;       // "containerd", "runc", "crun", "cri-o", "docker"
  pid_t pid = 0;             // the container's init as the host sees it; 0 if not given
  uint64_t start_ticks = 0;  // runc/crun's record of the init's start time; 0 if not given
  bool monitor = false;      // conmon.pid: the PID is the monitor's, not the container's
  std::string sandbox;       // "gvisor", "kata" when the container runs in a sandbox
};

// The pure parsers behind Lookup, one per file format above. Never fail: a file that is not what
// its format says (not a number, not JSON, a PID that is not a positive int, a start time that is
// not a non-negative integer) gives 0 for that value.
enum class StateFileKind {
  kPidFile,      // containerd init.pid, CRI-O pidfile / conmon.pid: "4242\n"
  kRuncState,    // runc state.json: init_process_pid, init_process_start
  kCrunStatus,   // crun status: pid, process-start-time
  kDockerConfig  // Docker config.v2.json: State.Pid
};
struct StateFileValues {
  pid_t pid = 0;
  uint64_t start_ticks = 0;
};
StateFileValues ParseStateFile(StateFileKind kind, absl::string_view text);

class RuntimeStateReader {
 public:
  // `host_root`: "/" on a node; `extra_containerd_state_dirs`: absolute paths of other
  // containerd state directories (containerd's `state` setting) to look in as well.
  RuntimeStateReader(std::string host_root, std::vector<std::string> extra_containerd_state_dirs);

  // Every fact found for container `id` (full 64-hex ID). Never fails: unreadable files are
  // simply not facts. Thread-safe (no mutable state).
  std::vector<StateFact> Lookup(const std::string& id) const;

 private:
  std::string Abs(const std::string& rel) const;
  std::string host_root_;
  std::vector<std::string> extra_state_dirs_;
};

}  // namespace kdbg::agent
