// What tests check after every session end, read from the real /proc: the target is alive, not
// stopped, not traced, and no `dlv` is attached to it.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace kdbg::testing {

struct ProcStatus {
  char state = '?';      // "State:" first letter: R, S, D, T (stopped), t (tracing stop), Z, X
  pid_t tracer_pid = 0;  // "TracerPid:"
  uint64_t shd_pnd = 0;  // "ShdPnd:" pending signals, bit (sig-1)
};

// Parses /proc/PID/status. NotFound when the process is gone.
absl::StatusOr<ProcStatus> ReadProcStatus(pid_t pid);

// PIDs of `dlv` processes whose command line names `pid` ("dlv attach 4242 ..."); all dlv processes
// when pid is 0.
std::vector<pid_t> DlvProcessesFor(pid_t pid);

// Waits up to `timeout` for `pid` to be untraced and not stopped; returns its last status.
absl::StatusOr<ProcStatus> WaitUntilReleased(pid_t pid, int timeout_ms = 5000);

}  // namespace kdbg::testing
