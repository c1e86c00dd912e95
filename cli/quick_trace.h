// Quick trace and `kdbg funcs`: the target's functions by regular expression, through the
// controller's ListFunctions (the agent reads the target's symbol table with the one Go-binary
// inspector, agent/gobinary/function_match.h).
//
// `kdbg trace TARGET REGEXP` (as `dlv trace [package] regexp` takes it) becomes an ordinary trace
// script, sent as --init's text would be, so the one grammar (script/trace_script.h), both engines,
// the controller's policy, the limits and the safe end apply unchanged. For
//   kdbg trace pod/web '^main\.handle' --print r.URL.Path --stack 5
// matching main.handleOrder and main.handleSlash, the script is
//   # kdbg trace ^main\.handle
//   trace handleOrder main.handleOrder
//   on handleOrder print r.URL.Path
//   on handleOrder stack 5
//   trace handleSlash main.handleSlash
//   on handleSlash print r.URL.Path
//   on handleSlash stack 5
// Tracepoint names are the functions' last name parts, letters and digits only ("(*Cart).Add" ->
// "CartAdd"), made unique with a number when two collide.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "cli/commands.h"
#include "kdbg/v1/types.pb.h"

namespace kdbg::cli {

// The most functions one pattern may arm by default (--max-funcs), and the most it may ever arm
// (the grammar's tracepoint bound, script::kMaxTracepoints).
inline constexpr int kDefaultMaxFuncs = 20;
inline constexpr int kMaxMaxFuncs = 100;
// How many matches a refusal lists.
inline constexpr int kRefusalListed = 10;

// The script for `functions` (Go names as the agent listed them). InvalidArgument when `prints`
// holds an expression on more than one line, or `functions` is empty.
absl::StatusOr<std::string> QuickTraceScript(const std::string& regexp,
                                             const std::vector<std::string>& functions,
                                             const std::vector<std::string>& prints,
                                             int stack_depth);

// A tracepoint name for a Go function name (see the file comment); never all digits.
std::string TracepointName(const std::string& function);

// The refusal when `list.total()` exceeds `max_funcs`: names the count, the cap, the first
// kRefusalListed matches and what to do.
std::string TooManyFunctionsMessage(const std::string& regexp, const std::string& target,
                                    const kdbg::v1::FunctionList& list, int max_funcs);

// `kdbg funcs`: one name per line (text) or one JSON object per function; a summary on stderr.
std::string FunctionsText(const kdbg::v1::FunctionList& list);
std::string FunctionsJson(const kdbg::v1::FunctionList& list);

struct FuncsCommandOptions {
  TargetOptions target;
  std::string regexp;
  int64_t offset = 0;
  int64_t limit = 0;     // 0: all (the agent answers at most 20000 per call)
  bool runtime = false;  // include the runtime's own packages
};

int RunFuncs(const GlobalOptions& g, const FuncsCommandOptions& o, const CommandEnv& env);

}  // namespace kdbg::cli

namespace kdbg::cli::internal {
struct Connection;
class Console;
// Asks the controller for the functions `o.regexp` matches on the connected pod (runtime packages
// left out) and returns the quick-trace script. Errors: no match (naming runtime-only matches
// when that is why), more than o.max_funcs matches (TooManyFunctionsMessage), the RPC's.
absl::StatusOr<std::string> ExpandQuickTrace(const TraceCommandOptions& o, const Connection& conn,
                                             Console& console);
}  // namespace kdbg::cli::internal
