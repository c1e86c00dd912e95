// The eBPF engine: kdbg's second implementation of agent/delve/debug_session.h. It never stops or
// ptrace-attaches the target: it compiles the trace script (plan.h), arms one uprobe per
// tracepoint driven by the BPF program (bpf_probes.h) and turns ring-buffer records into the same
// HitEvents the Delve engine emits.
//
//   auto factory = kdbg::ebpf::NewEbpfSessionFactory({});
//   auto session = factory->StartTrace(spec, on_event);   // emits ArmedEvent{engine:"ebpf"}, hits
//
// Limits: --max-hits and --duration end the session; the rate limit is a token bucket per probe in
// the BPF program (a probe over its rate disarms itself; the session detaches it and emits a
// NoticeEvent{code:"rate-limited"}); records lost to a full ring buffer are counted by the BPF
// program and reported (NoticeEvent{kind: NOTICE_KIND_EVENTS_DROPPED} and the EndedEvent's
// message). Every end (RequestEnd, duration, max hits, target exit, destructor) detaches every
// probe by closing their file descriptors; an agent killed outright leaves nothing either (the
// kernel closes them). Attach mode is Delve's only: StartAttach returns Unimplemented.
//
// Thread safety: the factory and the DebugSession methods are thread-safe; events are emitted on
// the session's own thread.
#pragma once

#include <memory>
#include <string>

#include "agent/delve/debug_session.h"

namespace kdbg::ebpf {

struct EbpfOptions {
  int default_hits_per_second = 10000;  // per probe, when the request asks for none
  int max_hits_per_second = 100000;
  int poll_timeout_ms = 2;  // bounds hit -> event latency when below the wake-up mark
  // Hits are handed to the stream at most once per interval (one message to the caller); a hit
  // after a quiet interval goes at once (EbpfSession::ReleaseDue). The interval is
  // batch_interval_ms up to 1,000 hits/s, longer in proportion above, at most
  // max_batch_interval_ms (hand_off_pacer.h).
  int batch_interval_ms = 10;
  int max_batch_interval_ms = 50;
  size_t ring_bytes = 8u << 20;
  std::string proc_root = "/proc";
  // Where each session writes down the probes it attaches, before attaching them: one file per
  // session, <session id>.probes, a line "PID START_TICKS FILE_OFFSET" per probe, removed once
  // every probe is detached. What a killed agent leaves there, ClearLeftProbes clears. Empty: no
  // records (tests, benchmarks).
  std::string record_dir;
};

// For an agent that was killed (run by its guardian, and by the next agent before it serves):
// every record in options.record_dir is a session that did not finish detaching; each of its
// probes is cleared (ClearUprobe, bpf_probes.h: a kill during the kernel's removal can leave the
// int3 in the target) if its process still runs (same start time), and the record is deleted.
// Returns the number of probes cleared.
int ClearLeftProbes(const EbpfOptions& options);

// StartTrace errors (nothing is left attached after any of them):
//   InvalidArgument / NotFound  the script (file:line: reason), as the Delve engine words them
//   Unimplemented               the script is valid but not for this engine (line and reason)
//   FailedPrecondition          the binary has no DWARF
//   Unavailable / PermissionDenied  the node cannot run BPF uprobes (the kernel's words)
std::unique_ptr<agent::DebugSessionFactory> NewEbpfSessionFactory(EbpfOptions options);

}  // namespace kdbg::ebpf
