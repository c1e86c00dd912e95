// Trace scripts: the subset of Delve's terminal commands that makes sense for tracing a live
// service. Headless Delve ignores `--init`, so kdbg parses the script itself and turns it into
// JSON-RPC calls. A pure parser: text in, plan out; no Delve involved. The one grammar: the agent's
// engines (Delve, eBPF) run the parsed plan, and the controller's policy check
// (controller/policy.h, allowedScriptCommands / allowedActions) judges the same parsed commands,
// so an alias can never slip past the policy. The reference for users is docs/trace-scripts.md.
//
// Accepted, one command per line (leading/trailing blanks ignored):
//   # a comment                   (also empty lines)
//   trace [name] <location>       a tracepoint (alias: t)
//   break [name] <location>       a breakpoint; in a trace session it never stops the program:
//                                 it is reported like a tracepoint and the program goes on (alias:
//                                 b)
//   on <bp> print <expr>          evaluate <expr> at every hit of <bp> (several allowed, in order;
//                                 alias: p)
//   on <bp> stack [depth]         collect the goroutine's stack (depth frames, default 10;
//                                 alias: bt)
//   cond <bp> <expr>              only hits where <expr> is true (alias: condition)
//   cond -hitcount <bp> <op> <n>  only hits whose count satisfies <op> <n> (== != < <= > >= %)
//   continue                      optional; nothing but comments may follow it (alias: c)
// <bp> is a name given to trace/break, or the 1-based number of a trace/break line, as Delve
// numbers them. Names are letters and digits, not all digits (Delve's rule). Locations are Delve's:
// `main.go:10`, `handleSlash`, `main.handleSlash`, `pkg/file.go:12`, `*0x4a1b2c`.
//
// The script users start with:
//   trace handleSlash main.go:10
//   on handleSlash print r.RemoteAddr
//   continue
//
// Anything else (call, set, restart, print at top level, ...) is refused with "file:line: reason".
//
// Bounds (a script comes from a user through the controller to an agent running as root; the
// parser refuses, with InvalidArgument naming the bound, before anything is resolved or started):
// at most kMaxScriptBytes of text, kMaxTracepoints trace/break lines, kMaxExpressionBytes per
// `print` or `cond` expression. The gRPC message cap (common/limits.h) stops larger requests
// earlier still.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace kdbg::script {

inline constexpr size_t kMaxScriptBytes = 64 * 1024;
inline constexpr size_t kMaxTracepoints = 100;
inline constexpr size_t kMaxExpressionBytes = 1024;

struct ScriptBreakpoint {
  std::string name;      // as given, or generated: "bp1", "bp2", ... (the line's number)
  bool named = false;    // the script gave the name
  std::string location;  // as written
  int line = 0;          // script line of the trace/break command
  bool stops = false;    // declared with `break`
  std::vector<std::string> prints;
  std::vector<int> print_lines;  // script line of each `on <bp> print`, same order as prints
  int stack_depth = 0;           // 0: no stack
  int stack_line = 0;            // script line of `on <bp> stack`
  std::string cond;
  std::string hit_cond;  // "> 3"
  int cond_line = 0;     // script line of the last `cond` for this breakpoint
};

// One command line of the script, in canonical words (aliases resolved): what a policy judges.
struct ScriptCommand {
  int line = 0;             // 1-based script line
  std::string word;         // as written: "t", "condition", ...
  std::string command;      // canonical: "trace", "break", "on", "cond", "continue"
  std::string action;       // for `on`: canonical "print" or "stack"; else empty
  std::string action_word;  // for `on`: as written ("p", "bt", ...)
};

struct TraceScript {
  std::vector<ScriptBreakpoint> breakpoints;
  std::vector<ScriptCommand> commands;  // every command line, in order
};

// The canonical command for a word of the grammar ("t" -> "trace", "condition" -> "cond"), or ""
// when `word` is not a trace-script command. For `on` actions: "p" -> "print", "bt" -> "stack".
std::string CanonicalCommand(absl::string_view word);
std::string CanonicalAction(absl::string_view word);

// Errors: InvalidArgument "<script_name>:<line>: <reason>"; a script without any trace/break is
// refused too ("<script_name>: no tracepoint: add a line like `trace main.go:10`").
absl::StatusOr<TraceScript> ParseTraceScript(absl::string_view text, absl::string_view script_name);

}  // namespace kdbg::script
