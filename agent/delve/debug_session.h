// The Delve session engine's interface, as the agent service uses it.
//
// A DebugSession owns one `dlv attach PID --headless` and the target it is attached to. Whatever
// ends it (RequestEnd, duration, max hits, target exit, destructor), it ends by the safe sequence
// of docs/delve-engine.md: stop continuing, halt only if running, clear every breakpoint, drain a
// pending SIGTRAP, detach without killing, let Delve exit, check /proc that the target is running
// and untraced.
#pragma once

#include <sys/types.h>

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "kdbg/v1/types.pb.h"

namespace kdbg::agent {

// Receives a session's events. Called on the session's own thread, never concurrently for one
// session, and never after the EndedEvent. Must not block for long (hand off to a queue). The
// event is the callee's (engines move it in: no copy per hit).
using EventCallback = std::function<void(kdbg::v1::Event)>;

// Marks events that an engine emits together (the hits of one ring-buffer poll): while an
// EventBunch lives on a thread, a consumer of the EventCallback may defer waking its reader
// (EventBunch::Defer) until the outermost bunch on that thread ends, so the reader finds them all
// queued and sends them as one message instead of the first alone. Not copyable; thread-local.
class EventBunch {
 public:
  EventBunch() { ++depth_; }
  ~EventBunch() {
    if (--depth_ > 0) return;
    std::vector<std::function<void()>> run;
    run.swap(pending_);
    for (auto& wake : run) wake();
  }
  EventBunch(const EventBunch&) = delete;
  EventBunch& operator=(const EventBunch&) = delete;

  // True while a bunch lives on this thread.
  static bool Active() { return depth_ > 0; }
  // Runs `wake` when the outermost bunch on this thread ends. Requires Active().
  static void Defer(std::function<void()> wake) { pending_.push_back(std::move(wake)); }

 private:
  static inline thread_local int depth_ = 0;
  static inline thread_local std::vector<std::function<void()>> pending_;
};

// The target as the resolver found and verified it (agent/resolver/resolver.h): engines take these
// facts and never inspect the target again. The caller verifies the target (Resolver::Verify)
// just before starting a session.
struct TraceSpec {
  std::string session_id;                          // empty: one is generated
  pid_t pid = 0;                                   // ResolvedTarget.host_pid
  std::string pod;                                 // "namespace/name", for messages; may be empty
  uint64_t start_time_ticks = 0;                   // ResolvedTarget.start_time_ticks
  kdbg::v1::BinaryInfo binary;                     // ResolvedTarget.binary
  std::string script;                              // trace script text
  std::string script_name;                         // for "file:line: reason" errors
  absl::Duration duration = absl::ZeroDuration();  // zero: until RequestEnd
  int64_t max_hits = 0;                            // zero: no cap
  int max_hits_per_second = 0;                     // zero: engine default
  // Symbols and DWARF from this file, the unstripped binary of a stripped target's build (already
  // checked to carry the target's build ID). The engine gives Delve EXECUTABLE.dlv/ as its config
  // home (agent/delve/delve_home.h, separate_debug_info.h) and removes that directory when the
  // session ends.
  std::string executable;
  // binary.go_version picks the bundled Delve; outside every Delve's supported range the start
  // fails (FailedPrecondition) unless allow_unsupported_go (--allow-unsupported-go), which marks
  // every event (Event.unsupported_go).
  bool allow_unsupported_go = false;
  // What the request itself asked for (max_hits_per_second may hold the agent's Delve default):
  // zero lets the eBPF engine use its own, higher default.
  int requested_hits_per_second = 0;
  std::string engine;       // "auto" (or empty), "ebpf", "delve": see agent/service/engine.h
  bool no_returns = false;  // TraceOptions.no_returns: the eBPF engine arms no return probes
  // Called by the eBPF engine once its plan is compiled, before it attaches its first uprobe; a
  // non-OK status ends the start with that status, nothing attached (the engine choice claims
  // the build there: agent/ebpf/build_claims.h). Empty: nothing to ask.
  std::function<absl::Status()> before_probing;
  // The target's stop limit (kube/probes.h, from its liveness probe): the Delve engine ends the
  // session (END_REASON_STOP_LIMIT) when the target was held stopped longer than this in total
  // within any window of twice its length. Zero: no limit.
  absl::Duration max_stop = absl::ZeroDuration();
};

struct AttachSpec {
  std::string session_id;
  pid_t pid = 0;
  std::string pod;  // as TraceSpec
  uint64_t start_time_ticks = 0;
  kdbg::v1::BinaryInfo binary;
  std::string executable;             // as TraceSpec::executable
  bool allow_unsupported_go = false;  // as TraceSpec
  // The target's stop limit: a stop the remote client holds longer is ended by a continue (every
  // breakpoint kept, NOTICE_KIND_STOP_LIMIT); later stops nobody asked for are continued at once
  // until the client sends a request, when the target is halted for it. Zero: no limit.
  absl::Duration max_stop = absl::ZeroDuration();
};

class DebugSession {
 public:
  // Ends the session safely if it has not ended yet (blocking until it has).
  virtual ~DebugSession() = default;

  virtual const std::string& id() const = 0;
  virtual pid_t target_pid() const = 0;
  // Attach mode: where the Delve server listens, for the tunnel, as common/stream_connect.h takes
  // it ("unix:<work_dir>/<session>.sock" for the Delve engine, see delve_engine.h). Empty in trace
  // mode.
  virtual std::string delve_address() const = 0;
  virtual int64_t hits() const = 0;

  // Starts the safe end with `reason`. Thread-safe, non-blocking, idempotent (the first reason
  // wins).
  virtual void RequestEnd(kdbg::v1::EndReason reason) = 0;
  // Blocks until the session has ended (or `timeout`); returns the EndedEvent it emitted.
  // DeadlineExceeded if still running.
  virtual absl::StatusOr<kdbg::v1::EndedEvent> Wait(absl::Duration timeout) = 0;
  virtual bool Ended() const = 0;
  // The three calls below come from the attach tunnels. Pure, so that a session wrapping another
  // (engine_choice.cc's Claimed) cannot drop one silently: an engine without attach mode says so.
  // Attach mode: the remote client sent a request (the tunnel saw bytes toward Delve). Returns true
  // when the bytes may go to Delve now. False when the engine must first make Delve ready for a
  // returning client (the Delve engine enables the breakpoints it disabled while no client was
  // connected): the tunnel holds the bytes until `ready` runs, exactly once, on the engine's
  // thread, with no lock of the caller's held, when they may go (or the session is ending).
  // `ready` must not block. Thread-safe, non-blocking; `ready` is dropped unrun when true.
  virtual bool NoteClientActivity(std::function<void()> ready) = 0;
  // Attach mode: how many remote clients (tunnels to Delve's server) are connected now, told each
  // time one connects or disconnects. Thread-safe, non-blocking.
  virtual void NoteClientConnections(int open) = 0;
  // Attach mode: what the session's user must hear of something done outside the engine (the
  // tunnel refused a client's request to kill the target): emitted as a notice of `kind`, in order
  // with the engine's own events. Thread-safe, non-blocking.
  virtual void TellUser(kdbg::v1::NoticeKind kind, const std::string& message) = 0;
};

class DebugSessionFactory {
 public:
  virtual ~DebugSessionFactory() = default;

  // Attaches Delve, parses and arms the script, emits ArmedEvent and starts the continue loop on
  // the session's thread. Returns once armed (events keep flowing to `on_event`), or an error that
  // left nothing behind (no Delve, target untouched):
  //   InvalidArgument     malformed script ("trace.dlv:3: unknown command \"call\"")
  //   NotFound            a location Delve cannot find ("trace.dlv:1: location \"nope\" not found")
  //   FailedPrecondition  the binary facts rule Delve out (not Go, no debug info), or Delve refused
  //   to
  //                       attach (its own message: already traced, not permitted)
  //   Unavailable         Delve did not start or answer (the message carries Delve's own output and
  //                       exit status)
  virtual absl::StatusOr<std::unique_ptr<DebugSession>> StartTrace(const TraceSpec& spec,
                                                                   EventCallback on_event) = 0;
  // Attaches Delve for a remote client and returns once its server answers; emits NoticeEvent
  // {kind: NOTICE_KIND_READY} then, at the end, EndedEvent. Errors as StartTrace.
  virtual absl::StatusOr<std::unique_ptr<DebugSession>> StartAttach(const AttachSpec& spec,
                                                                    EventCallback on_event) = 0;
};

}  // namespace kdbg::agent
