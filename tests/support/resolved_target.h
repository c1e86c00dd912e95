// What the agent's session manager does before it starts an engine, for tests and benchmarks that
// drive an engine directly: resolve the host PID with the real resolver over /proc, refuse a target
// it finds undebuggable (with its `problem`), verify it, and hand the engine the resolver's facts.
// Engines never inspect a target themselves (agent/delve/debug_session.h).
#pragma once

#include <sys/types.h>

#include "absl/status/statusor.h"
#include "agent/delve/debug_session.h"
#include "kdbg/v1/types.pb.h"

namespace kdbg::testing {

// NotFound when the process is gone, FailedPrecondition with the resolver's problem otherwise.
absl::StatusOr<kdbg::v1::ResolvedTarget> ResolveHostPid(pid_t pid);

// Sets spec->pid, start_time_ticks and binary from ResolveHostPid(pid).
absl::Status ResolveInto(pid_t pid, agent::TraceSpec* spec);
absl::Status ResolveInto(pid_t pid, agent::AttachSpec* spec);

}  // namespace kdbg::testing
