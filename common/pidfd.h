// pidfd helpers: the one place kdbg calls pidfd_open(2). A pidfd names one process (never a later
// process that reuses its PID) and polls readable when that process exits, child or not (Linux
// 5.3+; the agent's nodes run 5.x and 6.x).
#pragma once

#include <sys/types.h>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/fd.h"

namespace kdbg {

// Opens a pidfd for `pid`. NotFound when the process no longer exists (ESRCH), Unimplemented on
// kernels without pidfd_open (ENOSYS), other errno codes as ErrnoToStatus.
absl::StatusOr<UniqueFd> PidfdOpen(pid_t pid);

// Waits until the process behind `pidfd` exits, up to `timeout` (absl::InfiniteDuration() waits for
// ever). True when it exited. Retries on EINTR. Does not reap (a child stays a zombie until
// waitpid).
bool PidfdWaitExit(int pidfd, absl::Duration timeout);

// Waits until process `pid` (a child or not) has exited, up to `timeout`. True when it has exited,
// including when it was already gone. False on timeout, and when its exit cannot be watched (no
// pidfd support).
bool WaitPidExit(pid_t pid, absl::Duration timeout);

}  // namespace kdbg
