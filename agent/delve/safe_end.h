// The safe end of a Delve session, shared by live sessions and by recovery after an agent restart.
// The sequence survived 40 of 40 runs under load here (docs/delve-engine.md, "The safe end"):
//   1. stop issuing continues; wait up to `halt_timeout` for a pending continue to return;
//   2. only if it did not and Delve says the process is running, halt on the second connection
//      (never halt a stopped process: the SIGTRAP would stay pending and kill the target at
//      detach);
//   3. clear every breakpoint with id > 0, including those a remote client set;
//   4. while SIGTRAP is pending (ShdPnd or a thread's SigPnd bit 0x10): continue, give it ~50 ms to
//      be consumed, halt only if still running, check again;
//   5. RPCServer.Detach {"Kill": false}; Delve exits and the target's TracerPid goes to 0.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "agent/delve/rpc_client.h"
#include "common/clock.h"
#include "common/proc_reader.h"
#include "nlohmann/json.hpp"

namespace kdbg::delve {

struct SafeEndTimeouts {
  absl::Duration halt = absl::Milliseconds(200);  // wait for a pending continue before halting
  absl::Duration call = absl::Seconds(10);        // any other Delve call
  absl::Duration drain_wait = absl::Milliseconds(50);
  int drain_attempts = 5;
};

struct SafeEndResult {
  bool target_exited = false;
  int exit_status = 0;
  bool detached = false;
  int cleared = 0;                    // breakpoints cleared
  std::vector<std::string> problems;  // what went wrong on the way (empty on a clean end)
  // The stop that a pending continue returned, if it returned during step 1 (the caller may still
  // report its hits).
  std::optional<nlohmann::json> last_stop;
};

// Runs steps 1-5. `main` is the connection a continue may be pending on (`main.pending()`),
// `side` a second connection to the same Delve. `extra_names` are breakpoint names to clear by name
// as well (a breakpoint whose Cond failed to parse can hold its name without being listed).
SafeEndResult RunSafeEnd(DelveClient& main, DelveClient& side, pid_t target, ProcReader& proc,
                         Clock& clock, const SafeEndTimeouts& timeouts,
                         const std::vector<std::string>& extra_names = {});

// Of `addrs` (Delve breakpoint addresses), those whose byte in `pid`'s code is no longer int3
// (0xCC): breakpoints something else removed, whose hits since were lost. The kernel removes a
// Delve int3 at code where another process of the same executable has a uprobe
// (agent/ebpf/build_claims.h); anything else writing the code could too. Judged only while the
// target is stopped (while it runs, Delve lifts an int3 for a moment to step over it); a byte
// that cannot be read is not judged.
std::vector<uint64_t> AddressesWithoutInt3(const ProcReader& proc, pid_t pid,
                                           const std::vector<uint64_t>& addrs);
// Why such a breakpoint is gone, for the messages that name one.
inline constexpr char kInt3RemovedWhy[] =
    "something else removed its int3, such as a uprobe of another program at that code of the "
    "same executable (docs/troubleshooting.md)";

// Parses "Process 4242 has exited with status 3" (Delve's error text when the target is gone).
std::optional<int> ParseExitedError(const std::string& message);

// The target's exit status when a command's reply says it exited: a State with "exited": true
// (its "exitStatus"), or Delve's error text (ParseExitedError); nullopt otherwise.
std::optional<int> ExitStatusOf(const absl::StatusOr<nlohmann::json>& reply);

// Reads the pending command's reply on `c`, past an Interrupt() (RequestEnd may arrive meanwhile;
// the caller checks for it next).
absl::StatusOr<nlohmann::json> ReceivePending(DelveClient& c, absl::Duration timeout);

}  // namespace kdbg::delve
