// The BPF side of the eBPF engine: loads the embedded program (probe.bpf.c) with libbpf, fills
// the per-probe read programs, attaches uprobes, consumes the ring buffer and detaches.
//
// Attachment is by perf_event_open on the uprobe PMU (/sys/bus/event_source/devices/uprobe),
// through /proc/PID/exe (works for a binary visible only in the target's mount namespace), for the
// target's PID. Links are never pinned and legacy tracefs uprobe_events are never used (Load
// refuses a kernel without the uprobe PMU rather than let libbpf fall back to them), so the kernel
// removes every probe when this object's file descriptors close, including when the agent is
// SIGKILLed.
//
// Thread safety: Poll and the destructor from one thread (the session's); other calls before
// Poll starts or from that same thread.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "agent/ebpf/probe_abi.h"
#include "common/fd.h"

namespace kdbg::ebpf {

class BpfProbes {
 public:
  // Checks the node (uprobe PMU, BPF allowed), loads and verifies the program. Errors:
  //   Unavailable         no uprobe PMU / BPF refused by the kernel (with the kernel's words)
  //   PermissionDenied    the agent lacks CAP_BPF/CAP_PERFMON (or CAP_SYS_ADMIN); Attach: lacks
  //                       CAP_SYS_ADMIN on a kernel that wants it for uprobes (SelfTest)
  // `pending_calls`: the size of the `calls` map (probe_abi.h, kdbg_track): KDBG_MAX_CALLS when a
  // probe tracks calls, else a token (the map's memory is the agent's, charged per session).
  // `subops`, `dispatch`: the sizes of those maps (probe_abi.h, KDBG_OP_CALL), at most
  // KDBG_MAX_SUBOPS and KDBG_MAX_DISPATCH (ResourceExhausted).
  static absl::StatusOr<std::unique_ptr<BpfProbes>> Load(size_t ring_bytes = 8u << 20,
                                                         uint32_t pending_calls = 64,
                                                         uint32_t subops = 0,
                                                         uint32_t dispatch = 0);
  // Detaches every probe and frees the program and maps.
  ~BpfProbes();

  // Writes probe `index`'s program (before Attach).
  absl::Status Configure(uint32_t index, const kdbg_probe& probe);
  // Writes the session's subprograms (at most the sizes Load was given; before Attach).
  absl::Status ConfigureSubprograms(
      absl::Span<const kdbg_op> ops,
      absl::Span<const std::pair<kdbg_dispatch_key, kdbg_dispatch>> entries);
  // Attaches probe `index` at `file_offset` of `binary` (use /proc/PID/exe) for process `pid`.
  absl::Status Attach(uint32_t index, const std::string& binary, uint64_t file_offset, pid_t pid);
  // Detaches probe `index` (no-op if not attached).
  void Detach(uint32_t index);
  void DetachAll();
  int attached() const;

  // Waits up to `timeout_ms` for records, then consumes all that are ready; calls `on_record` for
  // each (the pointer is valid during the call only). Returns the number consumed or an error.
  absl::StatusOr<int> Poll(int timeout_ms,
                           const std::function<void(const kdbg_record&, size_t)>& on_record);

  // The BPF program's counters for probe `index`.
  absl::StatusOr<kdbg_probe_state> State(uint32_t index);

 private:
  BpfProbes() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Why this node cannot run the eBPF engine, or OK. Cheap (reads sysfs); used by `auto`.
absl::Status CheckNodeSupport();

// Places and at once removes a uprobe at `file_offset` of `exe` (use /proc/PID/exe) for process
// `pid`, through the uprobe PMU and without a program. Its use: a uprobe left behind. When the
// process that attached a uprobe is SIGKILLed while it is detaching it (a pod deleted, then
// killed, during the graceful end), the kernel's removal of the int3 from the target can be cut
// short by that fatal signal: the kernel's uprobe stays with no consumer and the int3 stays in the
// target's code (the target still runs correctly, at the cost of a trap per call; measured on the
// cluster, Linux 6.18: the byte stayed 0xcc with no perf event or BPF link left anywhere). A new
// registration at the same place and its clean removal restore the original instruction. Harmless
// when nothing is left (the int3 goes in and out). `file_offset` must be where the engine placed a
// probe (an instruction boundary). Errors: the kernel's (NotFound: the process is gone).
absl::Status ClearUprobe(const std::string& exe, uint64_t file_offset, pid_t pid);

// A uprobe perf event (the uprobe PMU: /sys/bus/event_source/devices/uprobe/type) at `file_offset`
// of `exe` for process `pid`, with no program: its int3 is in place while the descriptor is open
// (PERF_EVENT_IOC_SET_BPF gives it one). The one place this engine opens such an event without
// libbpf (ClearUprobe; the benchmark's floor probe). Errors: the kernel's (NotFound: the process
// is gone).
absl::StatusOr<UniqueFd> OpenUprobeEvent(const std::string& exe, uint64_t file_offset, pid_t pid);

// Whether this process can run the eBPF engine here, tried for real on the first call and
// remembered (a process's capabilities, seccomp filter and kernel do not change under it): loads
// the program and attaches one uprobe to this process's own executable at its ELF entry point
// (an instruction boundary that never runs again), for this process only, then detaches it.
// OK, or the error Load/Attach gave, with the kernel's words: Unavailable (no uprobe PMU, BPF
// refused) or PermissionDenied (e.g. a kernel that wants CAP_SYS_ADMIN for uprobes and an agent
// with only CAP_BPF + CAP_PERFMON: "attach a uprobe to /proc/self/exe at offset 0x...: Permission
// denied ..."). Thread-safe.
absl::Status SelfTest();

}  // namespace kdbg::ebpf
