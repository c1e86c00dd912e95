// MergeRelay: one CLI Trace call fed by several agent Trace calls, one per pod ("part"), for a
// session over several pods (`kdbg trace deploy/NAME`, `-l SELECTOR`); gRPC callback API, no
// thread per stream, like EventRelay (relay.h).
//
// Every event read from a part is stamped with the part's pod (Event.pod) and the session's ID
// (the part's own agent session is "<session>-<n>") and queued for the CLI. The queue is bounded:
// while it holds `max_buffered` events no part is read, so a slow CLI slows every agent's stream
// (HTTP/2 flow control) instead of growing memory.
//
// Parts are independent: a part that fails (setup refused it: FailPart; or the agent refused or
// lost it: its ErrorEvent or non-OK status) yields one per-pod ErrorEvent with `failure` set, and
// the others go on. When setup is done and every part has ended, the closing EndedEvent
// (Event.pod empty, BuildSummary) is sent, then the call ends OK.
//
// Limits over every part (Limits): the total hit limit (`max_hits_total`, > 0), once reached,
// drops further hits and calls `on_hit_limit` once with the parts then running, which must make
// them end (the service asks their agents to stop them) and then call its `stopped` argument once
// with the parts it could not stop: the relay cancels those parts' agent calls (the agent's safe
// end on a lost client; the part's end is then MAX_HITS, with the reason the stop failed). A part
// whose setup reaches StartPart after the limit is not started. The total rate
// (`max_hits_per_second_total`, > 0; total_rate.h) lets at most that many hits per second through,
// on `clock`; the hits over it are not relayed, counted per part and in all, said in
// NOTICE_KIND_TOTAL_RATE_LIMITED notices (at most one a second, the rest before the summary) and
// in the summary. A function's return (HitEvent.returned) is not a hit: neither limit counts it.
//
// Ending: the CLI gone (cancel, failed write) cancels every part's agent call at once (each agent
// then ends its part safely). `kdbg stop` of the session (BeginStop) works like the hit limit:
// the caller stops the running parts through their agents and reports the ones it could not
// stop, whose calls are cancelled (their end: STOP_REQUESTED, saying so). A part whose agent call
// breaks as a killed agent's does (AgentLostMidSession, relay.h) is held open while
// `on_part_lost` asks how it ended (its guardian or restarted agent recorded it), as EventRelay
// does for one pod. The object deletes itself once the CLI's call and every agent call are done
// and every `stopped` was called, after `on_finished` (must not block: it runs on a gRPC thread).
// `on_part_done` runs once per part as it ends (for the audit), also on a gRPC thread.
#pragma once

#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "controller/relay.h"
#include "controller/total_rate.h"
#include "grpcpp/client_context.h"
#include "grpcpp/support/byte_buffer.h"
#include "grpcpp/support/client_callback.h"
#include "grpcpp/support/server_callback.h"
#include "kdbg/v1/types.pb.h"

namespace kdbg::controller {

// How one part went.
struct PartOutcome {
  size_t index = 0;  // in the request's list of pods
  std::string pod;
  std::string node;
  std::string session_id;  // the part's session on its agent
  bool started = false;    // an agent call was made
  bool armed = false;
  int32_t host_pid = 0;
  int64_t hits = 0;
  bool ended_seen = false;
  v1::EndedEvent ended;
  bool client_gone = false;  // ended because the CLI went away (its agent call was cancelled)
  // Its agent could not stop it (at the total hit limit, or on `kdbg stop`), so its call was
  // cancelled; `ended` is then the relay's own (MAX_HITS or STOP_REQUESTED, saying why), not the
  // agent's.
  bool stop_cancelled = false;
  int64_t hits_over_total_rate = 0;  // not relayed: over the session's total rate
  bool failed = false;               // never armed, or the agent call failed without an EndedEvent
  std::string failure;               // ErrorEvent.failure word
  std::string failure_code;
  std::string message;
};

struct MergeOutcome {
  grpc::Status status;  // what the CLI got
  bool client_gone = false;
  bool hit_limit_reached = false;
  int64_t hits = 0;                                        // hits relayed in all
  int32_t max_hits_per_second_total = 0;                   // the total rate (0: none)
  int64_t hits_over_total_rate = 0;                        // hits not relayed: over it
  v1::EndReason last_reason = v1::END_REASON_UNSPECIFIED;  // of the part that ended last
  std::vector<PartOutcome> parts;
};

// The one word for why a part failed, from the status or ErrorEvent that said so:
// PERMISSION_DENIED -> "denied", NOT_FOUND -> "not-found", and by the agent's own words
// ("... is not a Go program" -> "not-go", "--debug-binary" -> "stripped", "outside the bundled
// Delve's supported range" -> "unsupported-go", "not running"/"terminated" -> "not-running",
// "no kdbg agent"/"cannot reach the kdbg agent"/"lost the kdbg agent" -> "no-agent"); anything
// else "error".
std::string ClassifyPartFailure(absl::StatusCode code, const std::string& message);

// The closing EndedEvent of a session over several pods: hits in all, one PodOutcome per part,
// target_alive (every ended part's target alive) and target_traced (any), a message counting the
// parts ("3 pods: 2 ended, 1 failed"), and the reason: max_hits when the total limit was reached,
// else the reason every ended part shares, else the reason of the part that ended last; error
// when no part ever armed. With hits over the total rate, hits_over_total_rate (in all and per
// pod) and the message says how many were not relayed.
v1::EndedEvent BuildSummary(const MergeOutcome& outcome);

// The end of a part whose agent could not stop it (`why`), so the relay cancelled its call:
// `reason` is MAX_HITS (the total limit) or STOP_REQUESTED (`kdbg stop`).
std::string StopCancelledMessage(v1::EndReason reason, const std::string& agent,
                                 const std::string& why);

class MergeRelay {
 public:
  using StartFn = std::function<void(grpc::ClientContext*, grpc::ClientReadReactor<v1::Event>*)>;
  // Parts that could not be stopped: index, and why (the agent's error).
  using StopFailures = std::vector<std::pair<size_t, std::string>>;
  using StoppedFn = std::function<void(const StopFailures&)>;
  struct Callbacks {
    // (running parts, stopped): see the file comment. `stopped` may be called on any thread.
    std::function<void(std::vector<size_t>, StoppedFn)> on_hit_limit;
    std::function<void(const PartOutcome&)> on_part_done;
    std::function<void(const MergeOutcome&)> on_finished;
    // Part `i`'s agent was lost mid-session (its status as the CLI would get it): as
    // EventRelay::OnAgentLost's `lost`, for that part (must call `done` exactly once; must not
    // block). Unset: the broken call is the part's end, a failure.
    std::function<void(size_t i, const grpc::Status&, EventRelay::DoneFn done)> on_part_lost;
  };
  struct Limits {
    int64_t max_hits_total = 0;             // 0: none
    int32_t max_hits_per_second_total = 0;  // 0: none
  };

  // `clock` (the total rate's) must outlive the relay.
  MergeRelay(size_t max_buffered, std::string session_id, std::vector<std::string> pods,
             Limits limits, Clock* clock, Callbacks callbacks);
  grpc::ServerWriteReactor<grpc::ByteBuffer>* reactor() { return &server_; }

  // Queues an event of the controller's own (progress notices; stamped with the session ID).
  void Send(v1::Event event);
  // The whole session failed before any part started: the CLI gets `status`. Thread-safe.
  void Fail(const grpc::Status& status);
  // Part `i` will not start: a per-pod ErrorEvent (failure: ClassifyPartFailure unless given).
  void FailPart(size_t i, const absl::Status& why, const std::string& failure = "");
  // Part `i` starts: `start` binds the reactor with stub->async()->Trace(ctx, &req, reactor) (the
  // request must outlive the call). `label` prefixes the agent's errors.
  void StartPart(size_t i, const std::string& node, const std::string& part_session_id,
                 const std::string& label, const StartFn& start);
  // Every part has been started or failed; the session ends when they have all ended.
  void SetupDone();
  bool ClientGone();
  // `kdbg stop`: the parts running now (all, or only part `only`; Running) go into `running`; the
  // caller asks their agents to stop them and then must call the returned function once (any
  // thread) with the ones it could not stop, whose calls the relay then cancels (their end:
  // STOP_REQUESTED, StopCancelledMessage). Stopping the whole session also keeps parts not yet
  // started from starting. Until then the relay stays alive, so the caller must know it is alive
  // when it calls BeginStop (the service: before `on_finished`). Never calls back.
  StoppedFn BeginStop(std::optional<size_t> only, std::vector<size_t>* running);

 private:
  struct Part;
  // What to do after the lock is released. Run() touches `this` only while it counts as in
  // flight; the relay is deleted by the last Run() once nothing else can reach it.
  struct Actions {
    bool write = false, finish = false, hit_limit = false;
    std::vector<size_t> read, cancel, remove_hold, running;  // running: for on_hit_limit
    std::vector<PartOutcome> done;  // copies: the callbacks never read the relay
    std::vector<std::pair<size_t, grpc::Status>> lost;  // for on_part_lost
    grpc::Status status;
  };
  class ServerSide : public grpc::ServerWriteReactor<grpc::ByteBuffer> {
   public:
    explicit ServerSide(MergeRelay* r) : r_(r) {}
    void OnWriteDone(bool ok) override { r_->OnClientWriteDone(ok); }
    void OnCancel() override { r_->OnClientCancel(); }
    void OnDone() override { r_->OnClientDone(); }

   private:
    MergeRelay* r_;
  };

  void OnClientWriteDone(bool ok);
  void OnClientCancel();
  void OnClientDone();
  void OnPartRead(size_t i, bool ok);
  void OnPartDone(size_t i, const grpc::Status& status);
  void OnStopped(const StopFailures& failed, v1::EndReason reason);
  void OnPartLostAnswered(size_t i, std::optional<v1::Event> ended);
  // A notice of the hits over the total rate, when one is due (or any left, with `flush`).
  void QueueRateNotice(bool flush) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Stamps and counts an event read from part `i`; false to drop it.
  bool Admit(Part& p, v1::Event* event) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The part ends with the relay's own EndedEvent (queued for the CLI, with its pod).
  void EndPartHere(Part& p, v1::EndReason reason, const std::string& message)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void QueuePartFailure(Part& p, const std::string& code, const std::string& message,
                        const std::string& failure) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool AllPartsFinished() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Whether a stop (`kdbg stop`, the session's --max-hits) must still reach part `p`'s agent.
  static bool Running(const Part& p);
  Actions Step() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Run(Actions a);

  const size_t max_buffered_;
  const std::string session_id_;
  const int64_t max_hits_total_;
  Clock* const clock_;
  Callbacks cb_;
  ServerSide server_{this};
  std::vector<std::unique_ptr<Part>> parts_;
  // The event being written to the CLI, serialized into write_buf_ outside the lock (Run); only
  // one write is in flight.
  v1::Event write_event_;
  grpc::ByteBuffer write_buf_;

  absl::Mutex mu_;
  std::deque<v1::Event> queue_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool setup_done_ ABSL_GUARDED_BY(mu_) = false;
  bool failed_ ABSL_GUARDED_BY(mu_) = false;  // Fail(): no summary
  bool summary_queued_ ABSL_GUARDED_BY(mu_) = false;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  bool finish_called_ ABSL_GUARDED_BY(mu_) = false;
  bool server_done_ ABSL_GUARDED_BY(mu_) = false;
  bool destroyed_ ABSL_GUARDED_BY(mu_) = false;
  bool reported_ ABSL_GUARDED_BY(mu_) = false;        // on_finished called (or being called)
  int stops_pending_ ABSL_GUARDED_BY(mu_) = 0;        // `stopped` functions not yet called
  bool stop_requested_ ABSL_GUARDED_BY(mu_) = false;  // BeginStop of the whole session
  bool finished_ ABSL_GUARDED_BY(mu_) = false;        // the CLI's call and every part are done
  int inflight_ ABSL_GUARDED_BY(mu_) = 0;             // Step() results not yet Run()
  bool hit_limit_called_ ABSL_GUARDED_BY(mu_) = false;
  TotalHitRate rate_ ABSL_GUARDED_BY(mu_);
  MergeOutcome outcome_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kdbg::controller
