#include "agent/ebpf/stack_frames.h"

#include <string>

#include "absl/strings/string_view.h"

namespace kdbg::ebpf {

namespace {

// Where Delve's stack iterator stops (proc.amd64SwitchStack: "top of stack" functions; mcall
// outside the system stack).
bool EndsStack(absl::string_view function) {
  return function == "runtime.goexit" || function == "runtime.rt0_go" ||
         function == "runtime.mcall";
}

}  // namespace

const StackFrames::Group& StackFrames::At(uint64_t pc, Kind kind) {
  const bool top = kind == Kind::kTop;
  if (groups_.size() >= kMaxGroups && !groups_.contains(std::make_pair(pc, kind))) groups_.clear();
  auto [it, inserted] = groups_.try_emplace(std::make_pair(pc, kind));
  Group& g = it->second;
  if (!inserted) return g;
  auto frame = [&](const std::string& function, const std::string& file, int line) {
    kdbg::v1::StackFrame f;
    f.set_function(function);
    f.set_file(file);
    f.set_line(line);
    f.set_pc(pc + bias_);
    g.frames.push_back(std::move(f));
  };
  auto code = dwarf_->CodeAt(pc);
  if (!code.ok()) {
    frame("", "?", -1);  // proc.stackIterator.newStackframe: no function
    g.last = true;
    return g;
  }
  // A caller is at its call instruction, which ends just before the return address; the return
  // address is its function's entry only in frames no CALL made (runtime.mstart and
  // runtime.systemstack_switch are placed there by runtime.systemstack); below runtime.sigpanic
  // the PC is where the fault was.
  uint64_t call_pc = pc;
  if (kind == Kind::kCaller && pc != code->entry && code->function != "runtime.mstart" &&
      code->function != "runtime.systemstack_switch") {
    call_pc = pc - 1;
  }
  std::string file = "?";
  int line = -1;
  if (auto pos = dwarf_->LineAt(call_pc); pos.ok()) std::tie(file, line) = *pos;
  // The inlined calls at the call (Delve decrements the PC for every frame but the first).
  const uint64_t inline_pc = top ? pc : pc - 1;
  std::vector<gobinary::PcCode::Inlined> inlined;
  if (inline_pc == pc) {
    inlined = code->inlined;
  } else if (inline_pc >= code->entry) {
    if (auto at = dwarf_->CodeAt(inline_pc); at.ok() && at->entry == code->entry) {
      inlined = at->inlined;
    }
  }
  for (const gobinary::PcCode::Inlined& in : inlined) {
    frame(in.function, file, line);
    file = in.call_file;
    line = in.call_line;
  }
  frame(code->function, file, line);
  g.last = EndsStack(code->function);
  return g;
}

std::vector<kdbg::v1::StackFrame> StackFrames::Frames(uint64_t report_pc,
                                                      absl::Span<const uint64_t> returns,
                                                      int depth) {
  std::vector<kdbg::v1::StackFrame> out;
  const size_t want = static_cast<size_t>(depth) + 1;
  bool last = false;
  bool sigpanic = false;
  auto add = [&](uint64_t pc, Kind kind) {
    const Group& g = At(pc, kind);
    out.insert(out.end(), g.frames.begin(), g.frames.end());
    last = g.last;
    sigpanic = g.frames.back().function() == "runtime.sigpanic";
  };
  add(report_pc, Kind::kTop);
  for (uint64_t ret : returns) {
    if (last || out.size() >= want || ret < bias_) break;
    add(ret - bias_, sigpanic ? Kind::kAfterSigpanic : Kind::kCaller);
  }
  return out;
}

}  // namespace kdbg::ebpf
