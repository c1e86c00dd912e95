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

// The TCP sockets in LISTEN state that process `pid` holds open, as "tcp INODE" / "tcp6 INODE"
// lines: its /proc/PID/fd links ("socket:[INODE]") matched against the LISTEN rows (st 0A) of
// /proc/PID/net/tcp and tcp6, its own network namespace's tables:
//   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
//   0: 0100007F:8E3B 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 52817
//   ...
std::vector<std::string> TcpListenersOf(pid_t pid);

// Waits up to `timeout` for `pid` to be untraced and not stopped; returns its last status.
absl::StatusOr<ProcStatus> WaitUntilReleased(pid_t pid, int timeout_ms = 5000);

}  // namespace kdbg::testing
