// The stack of an eBPF hit (`on .. stack N`), as Delve reports a tracepoint's stack trace
// (service/debugger collectBreakpointInformation: proc.ThreadStacktrace(thread, N), each frame
// api.ConvertLocation(frame.Call)), from the return addresses the BPF program walked
// (probe_abi.h, kdbg_probe.stack_depth):
//   - each physical frame is one or more frames: the calls the compiler inlined at its PC,
//     innermost first (proc.stackIterator.appendInlineCalls over reader.InlineStack), then the
//     function itself; every one of them carries the physical frame's PC;
//   - a caller's position is that of the call: its return address minus one (unless the return
//     address is its function's entry, or the frame below is runtime.sigpanic's: a fault, not a
//     call, left that PC), and its inlined calls are looked up at the return address minus one;
//   - each inlined frame is at the current position, which then moves to its DW_AT_call_file and
//     DW_AT_call_line;
//   - physical frames are added until there are at least N + 1 frames (the last one whole, so a
//     stack may be longer, as Delve's is), and none after runtime.goexit (a goroutine's first
//     frame's caller), runtime.rt0_go or runtime.mcall, or a PC no function holds.
// PCs in the frames are run-time addresses (link-time plus the PIE load bias).
#pragma once

#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "absl/container/node_hash_map.h"
#include "absl/types/span.h"
#include "agent/gobinary/dwarf.h"
#include "kdbg/v1/types.pb.h"

namespace kdbg::ebpf {

class StackFrames {
 public:
  // `dwarf` of the target's binary; `bias` its load bias (0 unless it is a PIE).
  StackFrames(std::unique_ptr<gobinary::DwarfReader> dwarf, uint64_t bias)
      : dwarf_(std::move(dwarf)), bias_(bias) {}

  // The frames of a hit reported at `report_pc` (link-time: ProbePlan::report_pc) whose calling
  // frames' return addresses are `returns` (run-time, the caller's first), for a stack of
  // `depth`. Not thread-safe (one DwarfReader); the physical frames' are remembered by PC
  // (kMaxGroups at most: then forgotten all at once).
  std::vector<kdbg::v1::StackFrame> Frames(uint64_t report_pc, absl::Span<const uint64_t> returns,
                                           int depth);

  static constexpr size_t kMaxGroups = 16384;

 private:
  struct Group {
    std::vector<kdbg::v1::StackFrame> frames;
    bool last = false;  // no frame follows (runtime.goexit, or no function holds the PC)
  };
  // How a physical frame's position is found (Delve's stackIterator.top and sigret).
  enum class Kind { kTop, kCaller, kAfterSigpanic };
  // The frames of the physical frame at link-time `pc`.
  const Group& At(uint64_t pc, Kind kind);

  std::unique_ptr<gobinary::DwarfReader> dwarf_;
  uint64_t bias_;
  absl::node_hash_map<std::pair<uint64_t, Kind>, Group> groups_;
};

}  // namespace kdbg::ebpf
