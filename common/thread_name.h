// Names the calling thread, as `top -H`, `ps -L` and /proc/PID/task/TID/comm show it, so an
// operator (and bench/) can tell kdbg's threads apart: "kdbg-delve-loop" (a Delve session's
// continue loop, on the target's critical path), "kdbg-stop-work" (its hit formatting and
// emission), "kdbg-ebpf-poll" (an eBPF session's ring-buffer consumer).
#pragma once

#include "absl/strings/string_view.h"

namespace kdbg {

// The kernel keeps at most 15 bytes of a name: longer names are cut there. Best effort: a
// failure leaves the inherited name.
void SetCurrentThreadName(absl::string_view name);

}  // namespace kdbg
