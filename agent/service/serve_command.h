#pragma once
#include <string>
#include <vector>
namespace kdbg::agent {
// `kdbg-agent serve ...`: runs until SIGTERM/SIGINT; returns the process exit status.
int RunServeCommand(const std::vector<std::string>& args);

// `kdbg-agent guard --parent PID SERVE-ARGS...`: the agent's guardian. `serve` spawns it in its own
// session at start-up; it waits for the agent process to die and then at once ends, by the safe
// sequence, every Delve session the agent left behind (the same recovery a restarted agent runs,
// serialised with it by a lock in the state directory). Without it, an agent killed with SIGKILL
// leaves its targets frozen at their next tracepoint hit until a new agent starts.
int RunGuardCommand(const std::vector<std::string>& args);
}  // namespace kdbg::agent
