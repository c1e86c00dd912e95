// Which engine debugs each build on this node, so that Delve's breakpoints and the eBPF engine's
// uprobes never meet in processes of one executable.
//
// The kernel keeps uprobes per file and offset, not per process, and once a process has had a
// uprobe (MMF_HAS_UPROBES stays set until a trap finds none) it offers every int3 that process
// hits to the uprobes of its file. A Delve breakpoint there, at code where a uprobe of another
// process of the same file is, is taken for that uprobe's own: the kernel finds the uprobe, whose
// filter refuses the process, removes "its" int3 (Delve's breakpoint) and runs the original
// instruction. Delve never sees that hit nor any later one at that address, and nothing tells
// it. The eBPF engine probes an inlined call exactly where Delve breaks, and an attach session's
// user may break anywhere. (Measured on kernel 6.18: the test
// EbpfEngineTest.KernelFactAUprobeOfAnotherProcessOfTheFileTakesDelvesBreakpoint.) Two Delve
// sessions or two eBPF sessions on one build never interfere.
//
// Processes are told apart by their Go build ID: every pod of one image on a node runs the same
// file, and the file's inode is not seen through a container's overlay mount (stat and
// /proc/PID/maps show the overlay's). Two files of one build are taken for one: a refusal where
// the kernel would not have mixed them, never the reverse.
//
// Thread-safe.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace kdbg::ebpf {

class BuildClaims {
 public:
  enum class Kind { kDelve, kUprobes };
  struct Claim {
    Kind kind = Kind::kDelve;
    std::string session_id;
    pid_t pid = 0;
    std::string pod;  // "namespace/name", or empty
  };

  // Claims `build_id` for `claim`'s session and returns the token that Release takes.
  // FailedPrecondition when a session of the other kind holds it, naming that session, its pid
  // and why, ending "Stop session S first (kdbg stop S)" (the caller may add another way out). An
  // empty build ID is not tracked (token 0): no Go build ID, no eBPF engine.
  absl::StatusOr<int64_t> Acquire(const std::string& build_id, const Claim& claim);
  // Releases a token (0 and unknown tokens are ignored).
  void Release(int64_t token);

 private:
  struct Held {
    std::string build_id;
    Claim claim;
  };
  absl::Mutex mu_;
  int64_t next_ ABSL_GUARDED_BY(mu_) = 1;
  std::map<int64_t, Held> held_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kdbg::ebpf
