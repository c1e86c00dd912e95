// Attach mode: the breakpoints remote clients leave behind once none is connected. Such a
// breakpoint still stops the target at every hit (Delve stops every thread, the engine continues at
// once: the Delve engine's cost per hit, for as long as the session lasts), so while no client is
// connected the engine disables them (DelveSession::AttachLoop) and enables exactly those again
// before a returning client's first request reaches Delve.
//
// Delve's logical breakpoints, as RPCServer.ListBreakpoints {"All": false} lists them (one entry
// per breakpoint, whatever its number of addresses; Delve 1.27, abridged):
//   {"id":1,"name":"","addr":4812345,"addrs":[4812345],"file":"/src/main.go","line":10,
//    "functionName":"main.handleSlash","Cond":"","HitCond":"","continue":false,
//    "WatchExpr":"","hitCount":{"1":2},"totalHitCount":2,"disabled":false,...}
// Delve's own have ids below zero (-1 unrecovered-panic, -2 fatal-throw). Each is disabled and
// enabled again by RPCServer.AmendBreakpoint {"Breakpoint": <as listed, "disabled" flipped>}:
// Delve copies a breakpoint's settings (condition, hit condition, tracepoint, load configs, ...)
// from the one it is sent (service/debugger's amendBreakpoint), so sending it back as listed keeps
// them, except what its JSON-RPC API never carries (a DAP logpoint's message: an IDE that connects
// sends its breakpoints again anyway). Left enabled: Delve's own (they stop only a dying target),
// watchpoints (Delve refuses: "can not disable watchpoints"), and those a call failed for.
//
// Every call needs the target stopped (Delve serves breakpoint calls only then); one thread at a
// time, as DelveClient.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "agent/delve/rpc_client.h"
#include "nlohmann/json.hpp"

namespace kdbg::delve {

struct ParkedBreakpoints {
  std::vector<nlohmann::json> disabled;  // as listed (enabled), in Delve's order
  // One per breakpoint left enabled: a watchpoint, or one whose AmendBreakpoint failed ("3 at
  // main.go:42: <Delve's error>").
  std::vector<std::string> kept;
};

// Disables every enabled breakpoint of a remote client. Not OK (nothing disabled) when Delve could
// not list them.
absl::StatusOr<ParkedBreakpoints> DisableClientBreakpoints(DelveClient& delve,
                                                           absl::Duration timeout);

// Enables each of `disabled` again, with the settings it was listed with. Returns one problem per
// breakpoint that stayed disabled.
std::vector<std::string> EnableAgain(DelveClient& delve,
                                     const std::vector<nlohmann::json>& disabled,
                                     absl::Duration timeout);

// For messages: "1 at main.handleSlash (main.go:10)", "2 \"slow\" at main.go:42"; several joined by
// ", ", at most five, then "and N more".
std::string DescribeBreakpoints(const std::vector<nlohmann::json>& breakpoints);

}  // namespace kdbg::delve
