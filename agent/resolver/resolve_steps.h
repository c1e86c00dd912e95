// The steps by which the resolver turns a container ID into the process to debug, each a function
// of its inputs (a ProcReader, the runtime state facts, a binary reader) so each has its own test
// (resolve_steps_test.cc, on an in-memory /proc). resolver.cc composes them:
//
//   1. ScanCgroupMembers    one pass over every process's cgroup file: the container's members
//                           (and CRI-O monitors, never targets)
//   2. CheckStateFiles      the init PID each runtime recorded, checked against the live process
//                           (start time, agreement with the cgroup scan); sandboxed runtimes
//      AddStateInitFamily   private cgroup namespace: the state files' init, and what shares its
//                           cgroup and descends from it
//   3. ClassifyMembers      pause, shims, monitors and sandboxes are never targets; a container
//                           still starting (its init still `runc init`) is Unavailable: retry
//      FindInit             the member whose parent is outside the container
//      CheckAncestry        the init's parent: the shim that serves it, or a sandboxed runtime
//   4. ChooseTarget         the init if it is Go, else the single Go program among the others
//
// Every step appends one line or more to `evidence`, the resolver's account of what it saw.
// Internal to kdbg_resolver.
#pragma once

#include <sys/types.h>

#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "agent/resolver/container_ref.h"
#include "agent/resolver/runtime_state.h"
#include "common/proc_reader.h"
#include "kdbg/v1/types.pb.h"

namespace kdbg::agent {

// What a process is, from its name: the kinds that are never a debug target.
enum class Kind {
  kOrdinary,
  kPause,
  kShim,
  kMonitor,
  kGvisor,
  kKata,
  kRuntimeInit,  // `runc init` (comm "runc:[2:INIT]"): a container that has not exec'd yet
};
Kind KindOf(const ProcessInfo& p);
// "4242 (/hello-world -addr :8080)", the command cut at 120 characters.
std::string Describe(const ProcessInfo& p);
// The first 12 characters of a container ID, as `crictl ps` shows it.
std::string ShortId(absl::string_view id);

// Memoised reads of processes for one resolution (each process is read once, even when several
// steps look at it). Not thread-safe; one per Resolve call.
class ProcessCache {
 public:
  explicit ProcessCache(ProcReader* proc) : proc_(proc) {}
  // Null when the process is gone.
  const ProcessInfo* Get(pid_t pid);

 private:
  ProcReader* proc_;
  std::map<pid_t, ProcessInfo> procs_;
};

// Step 1.
struct CgroupMembers {
  std::string full_id;  // the ID as the cgroup path spells it (the given one if none matched)
  std::vector<pid_t> members;
  std::vector<pid_t> monitors;
  std::string runtime;  // from the cgroup layout ("containerd", "cri-o", ...), may be empty
  std::string layout;
  std::string pod_uid;
  size_t scanned = 0;  // processes whose cgroup file was read
};
// Error only when the /proc root is unreadable.
absl::StatusOr<CgroupMembers> ScanCgroupMembers(ProcReader& proc, const ContainerRef& cref,
                                                std::vector<std::string>* evidence);

// Step 2.
struct StateFileResult {
  pid_t init = 0;       // the init PID the files agree on (0: none usable)
  std::string runtime;  // a runtime the files name (other than runc/crun)
  std::string sandbox;  // "gvisor" / "kata": the container runs in a sandbox
};
// Checks each fact against the live process; removes monitors from `members`.
StateFileResult CheckStateFiles(const std::vector<StateFact>& facts, ProcessCache& procs,
                                std::set<pid_t>* members, std::vector<std::string>* evidence);
// When no cgroup line names the container: adds `init` and the processes sharing its cgroup that
// descend from it. Error only when the /proc root is unreadable.
absl::Status AddStateInitFamily(ProcReader& proc, ProcessCache& procs, pid_t init,
                                std::set<pid_t>* members, std::vector<std::string>* evidence);

// Step 3.
struct Classified {
  std::vector<const ProcessInfo*> ordinary;  // candidates, in PID order
  std::vector<std::string> excluded;         // "4210 (/pause) is pause", ...
};
// Errors: FailedPrecondition for a sandboxed runtime or a container holding only pause/monitors;
// Unavailable while the container is still starting (a member is `runc init`, which is itself a Go
// program and must never be taken for the target).
absl::StatusOr<Classified> ClassifyMembers(const std::set<pid_t>& members, ProcessCache& procs,
                                           absl::string_view full_id,
                                           std::vector<std::string>* evidence);
// The ordinary member whose parent is outside the container; the state files' init wins a tie,
// then the oldest. Never null for a non-empty `ordinary`.
const ProcessInfo* FindInit(const std::vector<const ProcessInfo*>& ordinary,
                            const std::set<pid_t>& members, pid_t state_init,
                            std::vector<std::string>* evidence);
// The init's parent. FailedPrecondition when it is a sandboxed runtime's shim.
absl::Status CheckAncestry(const ProcessInfo& init, ProcessCache& procs, const ContainerRef& cref,
                           absl::string_view full_id, std::vector<std::string>* evidence);

// Step 4.
using BinaryReadFn = std::function<kdbg::v1::BinaryInfo(const ProcessInfo& p, std::string* error)>;
struct Choice {
  const ProcessInfo* target = nullptr;
  kdbg::v1::BinaryInfo binary;
  std::string binary_error;  // why the binary could not be read, if it could not
};
// FailedPrecondition listing them when several Go programs share the container.
absl::StatusOr<Choice> ChooseTarget(const ProcessInfo& init,
                                    const std::vector<const ProcessInfo*>& ordinary,
                                    const BinaryReadFn& read_binary, absl::string_view full_id,
                                    std::vector<std::string>* evidence);

}  // namespace kdbg::agent
