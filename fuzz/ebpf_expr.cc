// Fuzz target: the eBPF engine's expression compiler (agent/ebpf/plan.h). The input is a trace
// script; its print expressions are parsed (ParseExpr), the script is qualified (CheckScript) and,
// when it qualifies, compiled (CompilePlan) against the DWARF of a real Go program built by the
// tree (tests/targets/values: main.handleOrder(w io.Writer, o *Order, d Describer, tag string, qty
// int, urgent bool)). Each expression line is also given to ParseExpr alone.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>

#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "agent/delve/trace_script.h"
#include "agent/ebpf/plan.h"
#include "agent/gobinary/dwarf.h"

#ifndef KDBG_FUZZ_GO_BINARY
#error "KDBG_FUZZ_GO_BINARY: the Go program whose DWARF the compiler reads"
#endif

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static kdbg::gobinary::DwarfReader* dwarf = [] {
    auto r = kdbg::gobinary::DwarfReader::Open(KDBG_FUZZ_GO_BINARY);
    if (!r.ok()) {
      std::fprintf(stderr, "ebpf_expr: %s: %s\n", KDBG_FUZZ_GO_BINARY,
                   std::string(r.status().message()).c_str());
      std::abort();
    }
    return r->release();
  }();
  absl::string_view text(reinterpret_cast<const char*>(data), size);
  for (absl::string_view line : absl::StrSplit(text, '\n')) (void)kdbg::ebpf::ParseExpr(line);
  auto script = kdbg::delve::ParseTraceScript(text, "fuzz.dlv");
  if (!script.ok()) return 0;
  if (kdbg::ebpf::CheckScript(*script).has_value()) return 0;
  auto plan = kdbg::ebpf::CompilePlan(*script, "fuzz.dlv", *dwarf);
  if (!plan.ok()) return 0;
  // One first probe per tracepoint (its out-of-line entry, else its first inlined call, whose
  // `entry` is itself); every other probe (an inlined call, a return) belongs to the first probe
  // of its tracepoint.
  size_t firsts = 0;
  for (size_t i = 0; i < plan->probes.size(); ++i) {
    const kdbg::ebpf::ProbePlan& p = plan->probes[i];
    if (p.entry >= plan->probes.size() || plan->probes[p.entry].is_return ||
        plan->probes[p.entry].tracepoint != p.tracepoint ||
        plan->probes[p.entry].entry != p.entry) {
      std::abort();
    }
    if (p.entry == i) ++firsts;
  }
  if (firsts != script->breakpoints.size()) std::abort();
  return 0;
}
