// Fuzz target: the trace-script parser (script/trace_script.h), the text a user sends through the
// controller to the agent. Any input must give a script or InvalidArgument; a parsed script must
// keep its own invariants (every command line numbered, every breakpoint with a location).
#include <cstdint>
#include <cstdlib>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "script/trace_script.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = kdbg::script::ParseTraceScript(text, "fuzz.dlv");
  if (parsed.ok()) {
    if (parsed->breakpoints.empty()) std::abort();  // the parser refuses scripts without any
    for (const auto& bp : parsed->breakpoints) {
      if (bp.location.empty() || bp.name.empty() || bp.line <= 0) std::abort();
      if (bp.prints.size() != bp.print_lines.size()) std::abort();
    }
    for (const auto& c : parsed->commands) {
      if (c.line <= 0 || c.command.empty()) std::abort();
      if (kdbg::script::CanonicalCommand(c.word) != c.command) std::abort();
    }
  } else if (!absl::IsInvalidArgument(parsed.status())) {
    std::abort();
  }
  return 0;
}
