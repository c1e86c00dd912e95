// One Delve session (trace or attach mode): the DebugSession the factory hands out. Internal to
// kdbg_delve; construct through delve_engine.h.
//
// Threads: Start() launches the session thread, which spawns Delve (so an opted-in parent-death
// signal is tied to the session's lifetime), attaches, arms, runs the continue loop and finally the
// safe end. In trace mode a stop worker thread parses the stops the loop continued unparsed and
// emits their hits; events come from one thread at a time (the worker between drains, the session
// thread only once the worker is drained). RequestEnd/Wait/hits/Ended are thread-safe.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "agent/delve/delve_engine.h"
#include "agent/delve/parked_breakpoints.h"
#include "agent/delve/rpc_client.h"
#include "agent/delve/trace_script.h"
#include "agent/gobinary/dwarf.h"
#include "common/child_process.h"

namespace kdbg::delve {

struct SessionConfig {
  std::string id;
  std::string dlv_path;        // the Delve chosen for this target
  std::string unsupported_go;  // non-empty: set on every event (Event.unsupported_go)
  pid_t pid = 0;
  std::string executable;  // symbols from here (separate_debug_info.h), not /proc/PID/exe
  bool attach_mode = false;
  TraceScript script;  // trace mode
  std::string script_name;
  absl::Duration duration = absl::ZeroDuration();
  int64_t max_hits = 0;
  int hits_per_second = 0;  // resolved limit per tracepoint
  // The target's stop limit (debug_session.h, AttachSpec/TraceSpec::max_stop); zero: none.
  absl::Duration max_stop = absl::ZeroDuration();
};

// Where the target stands after a session, from /proc.
struct TargetCheck {
  bool alive = false;
  bool traced = false;
  bool stopped = false;
};
// Waits up to `timeout` for the target to be untraced and running (detach takes a moment to show).
TargetCheck CheckTargetReleased(ProcReader& proc, pid_t pid, absl::Duration timeout);

class DelveSession final : public kdbg::agent::DebugSession {
 public:
  DelveSession(const DelveOptions& options, SessionConfig config, kdbg::agent::EventCallback cb);
  ~DelveSession() override;

  // Runs setup on the session thread and waits for it: OK once armed (trace) or ready (attach).
  // On error nothing is left behind and no event was emitted.
  absl::Status Start();

  const std::string& id() const override { return config_.id; }
  pid_t target_pid() const override { return config_.pid; }
  std::string delve_address() const override { return config_.attach_mode ? address_ : ""; }
  int64_t hits() const override { return hits_.load(); }
  void RequestEnd(kdbg::v1::EndReason reason) override;
  absl::StatusOr<kdbg::v1::EndedEvent> Wait(absl::Duration timeout) override;
  bool Ended() const override;
  // Thread-safe: counts the request and keeps when it was noted (AttachLoop's stop limit). While
  // the breakpoints the clients left are disabled (no client was connected), returns false and
  // keeps `ready`: AttachLoop halts the target, enables them again and runs it (within ~50 ms).
  bool NoteClientActivity(std::function<void()> ready) override;
  // Thread-safe: AttachLoop resumes a target left stopped once the last client has gone
  // (DelveOptions::no_client_grace).
  void NoteClientConnections(int open) override { clients_open_.store(open); }
  // Thread-safe, never emits on the caller's thread (whose locks the event's delivery may need):
  // AttachLoop emits the notice at its next tick (at once while it waits for an end, at most 200
  // ms later while it waits on Delve), Finish before the ended event; one told after that is
  // dropped.
  void TellUser(kdbg::v1::NoticeKind kind, const std::string& message) override;

 private:
  struct TracepointState {
    std::string name;
    const ScriptBreakpoint* script = nullptr;
    BreakpointRequest request;  // as created by Arm; renewals recreate it from this
    // Renewable: no condition of it reads Delve's hit counts. `renew`: its per-goroutine hit map
    // outgrew DelveOptions::renew_after_goroutines; the loop renews it at its next stop.
    bool renewable = false;
    bool renew = false;
    int64_t hits = 0;
    std::deque<absl::Time> window;  // hit times in the last second
    bool cleared = false;
    bool noticed_stop = false;
    std::set<uint64_t> int3_lost;  // addresses whose int3 was found gone (said once)
    // Names that had a value at an earlier hit of this tracepoint (arguments, printed
    // identifiers): at another PC of an optimized function, Delve's "could not find symbol value
    // for NAME" then means the compiler kept no value there (e.g. a second inlined call site).
    std::set<std::string> known_names;
    std::set<std::string> functions;  // the traced function(s), for `declared`
    // Its parameters, from DWARF, read at the first name Delve could not find (else never).
    std::optional<std::set<std::string>> declared;
  };

  void Run();
  absl::Status Setup();
  absl::Status SpawnAndConnect();
  absl::Status AwaitRunning();  // attach mode: Setup's continue in effect
  absl::Status Arm();
  kdbg::v1::EndReason TraceLoop();
  // Whether the stop in `reply` (unparsed, ReceiveUnparsed) may be continued before it is parsed:
  // no error, not exited, no breakpoint to renew, the worker less than 16 hits behind, and its
  // hits, with those of the stops still queued to the worker, can reach neither the rate limit nor
  // max hits. `*bound`: an upper bound of its hits.
  bool MayContinueUnparsed(absl::string_view reply, absl::Time deadline, int64_t* bound);
  // The stop worker: parses each queued stop, counts its hits (HandleStop) and emits them while
  // the loop thread waits for the next stop. MayContinueUnparsed's bound keeps every queued stop
  // below max hits and every rate limit, so the worker never calls Delve.
  struct QueuedStop {
    std::string text;
    int64_t bound = 0;
  };
  void StopWorker();
  void QueueStop(absl::string_view text, int64_t bound);
  // Returns once every queued stop is handled and its hits emitted.
  void DrainStops();
  bool WorkReadyLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(work_mu_) {
    return worker_stop_ || !queued_.empty();
  }
  bool WorkDoneLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(work_mu_) {
    return queued_.empty() && !worker_busy_;
  }
  kdbg::v1::EndReason AttachLoop();
  // Returns true when the session must end (max hits).
  // A hit counted by HandleStop whose event is built and emitted only after the next continue has
  // been sent, so the target is stopped no longer than Delve's own client would keep it.
  struct PendingHit {
    const nlohmann::json* thread;  // inside the reply being handled; valid for the loop iteration
    std::string tracepoint;
    int64_t count;
    TracepointState* state;
  };
  // Counts the hits of one stop (rate limit, max hits) into `hits`; true when max hits is reached.
  bool HandleStop(const nlohmann::json& state, std::vector<PendingHit>* hits);
  void EmitHits(std::vector<PendingHit>* hits);
  // Clears and recreates each tracepoint marked `renew` (the loop thread, the target stopped, the
  // worker drained: no queued stop names an old breakpoint id). Not OK when a breakpoint was
  // cleared and could not be created again: the session must end, that tracepoint is gone.
  absl::Status RenewGrownBreakpoints();
  // At a stop (loop thread, the target stopped, before its continue), once per
  // DelveOptions::int3_check_interval: a breakpoint-lost notice's text for each breakpoint
  // address whose byte in the target is no longer int3, once per address; the caller sends them
  // after the continue. Nothing when the worker holds the tracepoints (tried at the next stop).
  std::vector<std::string> LostInt3s();
  bool Int3CheckDue() const { return clock_.MonotonicNow() >= next_int3_check_; }
  void Finish(kdbg::v1::EndReason reason);
  void CleanupAfterFailedSetup();
  void RemoveHome();
  void RemoveSocket();
  bool Declares(TracepointState& tp, const std::string& name);
  void Emit(kdbg::v1::Event event);
  void Notice(kdbg::v1::NoticeKind kind, const std::string& message);
  std::optional<kdbg::v1::EndReason> Requested();
  bool RequestedLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return requested_ != kdbg::v1::END_REASON_UNSPECIFIED;
  }
  // AttachLoop's wait ends for an end asked, a notice told or a request held.
  bool RequestedOrToldLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return RequestedLocked() || !told_.empty() || !held_requests_.empty();
  }
  // AttachLoop, no client connected since one spoke, the target stopped: disables the breakpoints
  // the clients left (parked_breakpoints.h) into parked_, and says so. Requests noted meanwhile
  // are held; released at once when nothing was disabled.
  void ParkClientBreakpoints();
  // AttachLoop, a request held while parked: halts the target if it runs on our continue, enables
  // parked_ again, says so and releases the held requests (the target stays halted for them).
  // The end's reason when the target exited or Delve was lost on the way.
  std::optional<kdbg::v1::EndReason> UnparkForReturningClient();
  // The target runs (on our continue when main_ is pending, else on a client's): halts it and,
  // for our continue, takes its reply. *stopped: Delve holds it stopped now (false, said in the
  // log, when the halt went unanswered). The end's reason when the target exited or Delve was
  // lost.
  std::optional<kdbg::v1::EndReason> HaltRunningTarget(bool* stopped);
  // Runs the held requests' `ready`s; later requests go through until the next park.
  void ReleaseHeldRequests();
  bool RequestHeld() {
    absl::MutexLock lock(&mu_);
    return !held_requests_.empty();
  }
  // Emits the notices TellUser queued; `last`: none is taken after these.
  void EmitTold(bool last);
  absl::Status DelveExitError(const std::string& log);

  DelveOptions options_;
  Clock& clock_;
  ProcReader& proc_;
  SessionConfig config_;
  kdbg::agent::EventCallback on_event_;

  std::unique_ptr<ChildProcess> dlv_;
  std::string address_;
  std::string log_path_;
  std::string home_dir_;                          // Delve's XDG_CONFIG_HOME (delve_home.h)
  std::unique_ptr<DelveClient> main_;             // continue loop
  std::unique_ptr<DelveClient> side_;             // State and halt while a continue is pending
  std::unique_ptr<gobinary::DwarfReader> dwarf_;  // opened on demand by Declares()
  bool dwarf_tried_ = false;
  // By Delve id. Its entries' counts, windows, `cleared` and `renew` are under state_mu_ once the
  // trace loop runs (the worker's HandleStop, the loop's MayContinueUnparsed and renewals).
  std::map<int, TracepointState> tracepoints_;
  absl::Mutex state_mu_;
  // Every absl::Time member is on clock_.MonotonicNow()'s timeline; only events carry clock_.Now().
  absl::Time next_int3_check_ = absl::InfinitePast();  // loop thread only
  std::vector<std::string> names_;
  kdbg::v1::ArmedEvent armed_;
  absl::Time start_;
  std::atomic<int64_t> hits_{0};
  std::atomic<int64_t> client_activity_{0};      // requests the remote client sent (attach mode)
  std::atomic<int64_t> last_activity_nanos_{0};  // when the last was noted (clock_.MonotonicNow())
  std::atomic<int> clients_open_{-1};  // remote clients connected; -1 until the first connects
  // The breakpoints AttachLoop disabled while no client was connected, as Delve listed them (loop
  // thread only); non-empty exactly while hold_requests_.
  std::vector<nlohmann::json> parked_;
  std::optional<int> exit_status_;
  std::string end_detail_;
  bool ending_ = false;  // Finish() reports a last stop after Delve detached

  absl::Notification setup_done_;
  absl::Status setup_status_;
  std::thread thread_;

  mutable absl::Mutex work_mu_;
  std::deque<QueuedStop> queued_ ABSL_GUARDED_BY(work_mu_);
  bool worker_busy_ ABSL_GUARDED_BY(work_mu_) = false;
  bool worker_stop_ ABSL_GUARDED_BY(work_mu_) = false;
  std::atomic<int64_t> queued_bound_{0};      // the bounds of the stops queued or being handled
  std::atomic<bool> worker_max_hits_{false};  // cannot happen (the bound): handled if it does
  int64_t renewals_ = 0;                      // breakpoints renewed (the loop thread)

  mutable absl::Mutex mu_;
  kdbg::v1::EndReason requested_ ABSL_GUARDED_BY(mu_) = kdbg::v1::END_REASON_UNSPECIFIED;
  bool loop_ready_ ABSL_GUARDED_BY(mu_) = false;
  bool ended_ ABSL_GUARDED_BY(mu_) = false;
  kdbg::v1::EndedEvent ended_event_ ABSL_GUARDED_BY(mu_);
  std::vector<std::pair<kdbg::v1::NoticeKind, std::string>> told_ ABSL_GUARDED_BY(mu_);
  bool told_closed_ ABSL_GUARDED_BY(mu_) = false;
  // Client requests wait (NoteClientActivity returns false) while this is set: from the start of
  // a park to the end of the unpark.
  bool hold_requests_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::function<void()>> held_requests_ ABSL_GUARDED_BY(mu_);  // their `ready`s
};

}  // namespace kdbg::delve
