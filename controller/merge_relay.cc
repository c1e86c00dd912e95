#include "controller/merge_relay.h"

#include <map>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "controller/event_peek.h"
#include "controller/relay.h"

namespace kdbg::controller {

std::string ClassifyPartFailure(absl::StatusCode code, const std::string& message) {
  if (code == absl::StatusCode::kPermissionDenied || code == absl::StatusCode::kUnauthenticated) {
    return "denied";
  }
  if (absl::StrContains(message, "is not a Go program")) return "not-go";
  if (absl::StrContains(message, "--debug-binary")) return "stripped";
  if (absl::StrContains(message, "supported range")) return "unsupported-go";
  if (absl::StrContains(message, "no kdbg agent") ||
      absl::StrContains(message, "cannot reach the kdbg agent") ||
      absl::StrContains(message, "lost the kdbg agent")) {
    return "no-agent";
  }
  if (code == absl::StatusCode::kNotFound) return "not-found";
  if (absl::StrContains(message, "not running") || absl::StrContains(message, "terminated")) {
    return "not-running";
  }
  return "error";
}

namespace {

absl::StatusCode CodeFromName(const std::string& name) {
  for (int c = 0; c <= 16; ++c) {
    auto code = static_cast<absl::StatusCode>(c);
    if (absl::StatusCodeToString(code) == name) return code;
  }
  return absl::StatusCode::kUnknown;
}

}  // namespace

v1::EndedEvent BuildSummary(const MergeOutcome& outcome) {
  v1::EndedEvent e;
  e.set_hits(outcome.hits);
  int ended = 0, failed = 0;
  bool alive = true, traced = false, same = true;
  v1::EndReason shared = v1::END_REASON_UNSPECIFIED;
  for (const PartOutcome& p : outcome.parts) {
    v1::PodOutcome* o = e.add_pods();
    o->set_pod(p.pod);
    o->set_node(p.node);
    o->set_session_id(p.session_id);
    o->set_hits(p.hits);
    o->set_hits_over_total_rate(p.hits_over_total_rate);
    if (p.ended_seen) {
      ++ended;
      o->set_outcome("ended");
      o->set_reason(p.ended.reason());
      o->set_message(p.ended.message());
      o->set_target_alive(p.ended.target_alive());
      o->set_target_traced(p.ended.target_traced());
      alive = alive && p.ended.target_alive();
      traced = traced || p.ended.target_traced();
      if (shared == v1::END_REASON_UNSPECIFIED) shared = p.ended.reason();
      same = same && shared == p.ended.reason();
    } else {
      ++failed;
      o->set_outcome("failed");
      o->set_failure(p.failure.empty() ? "error" : p.failure);
      o->set_message(p.message);
    }
  }
  if (outcome.hit_limit_reached) {
    e.set_reason(v1::END_REASON_MAX_HITS);
  } else if (ended == 0) {
    e.set_reason(v1::END_REASON_ERROR);
  } else if (same) {
    e.set_reason(shared);
  } else {
    e.set_reason(outcome.last_reason);
  }
  e.set_target_alive(ended > 0 && alive);
  e.set_target_traced(traced);
  std::vector<std::string> parts;
  if (ended > 0) parts.push_back(absl::StrCat(ended, " ended"));
  if (failed > 0) parts.push_back(absl::StrCat(failed, " failed"));
  std::string msg =
      absl::StrCat(outcome.parts.size(),
                   outcome.parts.size() == 1 ? " pod: " : " pods: ", absl::StrJoin(parts, ", "));
  if (ended > 0 && !traced && alive) absl::StrAppend(&msg, "; every target running, detached");
  if (traced) absl::StrAppend(&msg, "; a target is still traced");
  if (outcome.hits_over_total_rate > 0) {
    e.set_hits_over_total_rate(outcome.hits_over_total_rate);
    absl::StrAppend(&msg, "; ", outcome.hits_over_total_rate,
                    outcome.hits_over_total_rate == 1 ? " hit" : " hits",
                    " not relayed: over the total rate of ", outcome.max_hits_per_second_total,
                    " hits/s (--rate-limit-total)");
  }
  e.set_message(msg);
  return e;
}

std::string StopCancelledMessage(v1::EndReason reason, const std::string& agent,
                                 const std::string& why) {
  return absl::StrCat(reason == v1::END_REASON_MAX_HITS ? "the session's --max-hits was reached"
                                                        : "stopped on request (kdbg stop)",
                      "; agent ", agent, " could not stop the part (", why,
                      "), so its call was cancelled: the agent ends it as for a lost client "
                      "(detaches, target left running; not confirmed by it)");
}

struct MergeRelay::Part {
  class Reactor : public grpc::ClientReadReactor<v1::Event> {
   public:
    Reactor(MergeRelay* r, size_t i) : r_(r), i_(i) {}
    void OnReadDone(bool ok) override { r_->OnPartRead(i_, ok); }
    void OnDone(const grpc::Status& s) override { r_->OnPartDone(i_, s); }

   private:
    MergeRelay* r_;
    size_t i_;
  };
  Part(MergeRelay* r, size_t i) : reactor(r, i) {}

  Reactor reactor;
  grpc::ClientContext ctx;
  v1::Event read_buf;
  std::string label;
  bool resolved = false;  // setup started or failed it
  bool starting = false, started = false, reading = false, reads_ended = false, done = false,
       hold = false, cancel_sent = false, error_seen = false, done_reported = false, spoke = false,
       asking = false;     // asking: on_part_lost called, its `done` not yet
  std::string stop_error;  // why its agent could not stop it (then its call is cancelled)
  v1::EndReason stop_reason = v1::END_REASON_UNSPECIFIED;  // MAX_HITS or STOP_REQUESTED
  grpc::Status lost_end;  // the part's end if no agent recorded one (LostAgentStatus)
  PartOutcome out;
};

MergeRelay::MergeRelay(size_t max_buffered, std::string session_id, std::vector<std::string> pods,
                       Limits limits, Clock* clock, Callbacks callbacks)
    : max_buffered_(max_buffered < 1 ? 1 : max_buffered),
      session_id_(std::move(session_id)),
      max_hits_total_(limits.max_hits_total),
      clock_(clock),
      cb_(std::move(callbacks)),
      rate_(clock, limits.max_hits_per_second_total) {
  outcome_.max_hits_per_second_total = rate_.per_second();
  for (size_t i = 0; i < pods.size(); ++i) {
    parts_.push_back(std::make_unique<Part>(this, i));
    parts_.back()->out.pod = pods[i];
    parts_.back()->out.index = i;
  }
}

void MergeRelay::Send(v1::Event event) {
  Actions a;
  {
    absl::MutexLock lock(&mu_);
    event.set_session_id(session_id_);
    if (!cancelled_ && !finish_called_) queue_.push_back(std::move(event));
    a = Step();
  }
  Run(std::move(a));
}

void MergeRelay::Fail(const grpc::Status& status) {
  Actions a;
  {
    absl::MutexLock lock(&mu_);
    setup_done_ = true;
    failed_ = true;
    outcome_.status = status;
    a = Step();
  }
  Run(std::move(a));
}

bool MergeRelay::ClientGone() {
  absl::MutexLock lock(&mu_);
  return cancelled_;
}

void MergeRelay::QueuePartFailure(Part& p, const std::string& code, const std::string& message,
                                  const std::string& failure) {
  p.out.failed = true;
  p.out.failure = failure;
  p.out.failure_code = code;
  p.out.message = message;
  if (cancelled_) return;
  v1::Event e;
  e.set_session_id(session_id_);
  e.set_pod(p.out.pod);
  e.mutable_error()->set_code(code);
  e.mutable_error()->set_message(message);
  e.mutable_error()->set_failure(failure);
  queue_.push_back(std::move(e));
}

void MergeRelay::EndPartHere(Part& p, v1::EndReason reason, const std::string& message) {
  p.out.ended_seen = true;
  p.out.ended.set_reason(reason);
  p.out.ended.set_hits(p.out.hits);
  p.out.ended.set_message(message);
  outcome_.last_reason = reason;
  if (cancelled_) return;
  v1::Event e;
  e.set_session_id(session_id_);
  e.set_pod(p.out.pod);
  *e.mutable_ended() = p.out.ended;
  queue_.push_back(std::move(e));
}

void MergeRelay::FailPart(size_t i, const absl::Status& why, const std::string& failure) {
  Actions a;
  {
    absl::MutexLock lock(&mu_);
    Part& p = *parts_[i];
    p.resolved = true;
    std::string msg(why.message());
    QueuePartFailure(p, absl::StatusCodeToString(why.code()), msg,
                     failure.empty() ? ClassifyPartFailure(why.code(), msg) : failure);
    a = Step();
  }
  Run(std::move(a));
}

void MergeRelay::StartPart(size_t i, const std::string& node, const std::string& part_session_id,
                           const std::string& label, const StartFn& start) {
  Part& p = *parts_[i];
  Actions early;
  bool gone = false;
  {
    absl::MutexLock lock(&mu_);
    p.resolved = true;
    p.label = label;
    p.out.node = node;
    p.out.session_id = part_session_id;
    if (cancelled_) {
      QueuePartFailure(p, "CANCELLED", "the client went away", "error");
      p.cancel_sent = true;  // audited as the client going away
      p.done = true;
      early = Step();
      gone = true;
    } else if (outcome_.hit_limit_reached) {
      EndPartHere(p, v1::END_REASON_MAX_HITS,
                  "not started: the session's --max-hits was reached before this part started");
      p.done = true;
      early = Step();
      gone = true;
    } else if (stop_requested_) {
      EndPartHere(p, v1::END_REASON_STOP_REQUESTED,
                  "not started: the session was stopped (kdbg stop) before this part started");
      p.done = true;
      early = Step();
      gone = true;
    } else {
      p.starting = true;
      p.reading = true;
      p.hold = true;
      p.out.started = true;
    }
  }
  if (gone) {
    Run(std::move(early));
    return;
  }
  start(&p.ctx, &p.reactor);
  p.reactor.AddHold();
  p.reactor.StartRead(&p.read_buf);
  p.reactor.StartCall();
  Actions a;
  {
    absl::MutexLock lock(&mu_);
    p.starting = false;
    p.started = true;
    a = Step();
    if (p.out.stop_cancelled && !p.done) a.cancel.push_back(i);  // OnStopped ran meanwhile
  }
  Run(std::move(a));
}

void MergeRelay::SetupDone() {
  Actions a;
  {
    absl::MutexLock lock(&mu_);
    setup_done_ = true;
    a = Step();
  }
  Run(std::move(a));
}

void MergeRelay::OnClientWriteDone(bool ok) {
  Actions a;
  {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    if (!ok) {
      cancelled_ = true;
      outcome_.client_gone = true;
    }
    a = Step();
  }
  Run(std::move(a));
}

void MergeRelay::OnClientCancel() {
  Actions a;
  {
    absl::MutexLock lock(&mu_);
    cancelled_ = true;
    outcome_.client_gone = true;
    a = Step();
  }
  Run(std::move(a));
}

void MergeRelay::OnClientDone() {
  Actions a;
  {
    absl::MutexLock lock(&mu_);
    server_done_ = true;
    a = Step();
  }
  Run(std::move(a));
}

bool MergeRelay::Admit(Part& p, v1::Event* e) {
  e->set_session_id(session_id_);
  e->set_pod(p.out.pod);
  // A return (HitEvent.returned) is not a hit: it is not counted, and passes while the total
  // limit is not reached, as the agent counts calls only.
  auto admit_hit = [&](const v1::HitEvent& hit) -> bool {
    if (max_hits_total_ > 0 && outcome_.hits >= max_hits_total_) {
      outcome_.hit_limit_reached = true;
      return false;
    }
    if (hit.returned()) return true;
    if (!rate_.Admit()) {
      ++p.out.hits_over_total_rate;
      return false;
    }
    ++outcome_.hits;
    ++p.out.hits;
    if (max_hits_total_ > 0 && outcome_.hits >= max_hits_total_) outcome_.hit_limit_reached = true;
    return true;
  };
  if (e->has_batch()) {
    v1::EventBatch kept;
    for (v1::Event& inner : *e->mutable_batch()->mutable_events()) {
      if (inner.has_hit() && !admit_hit(inner.hit())) continue;
      inner.set_session_id(session_id_);
      inner.set_pod(p.out.pod);
      *kept.add_events() = std::move(inner);
    }
    if (kept.events().empty()) return false;
    *e->mutable_batch() = std::move(kept);
    return true;
  }
  if (e->has_hit()) return admit_hit(e->hit());
  if (e->has_armed()) {
    p.out.armed = true;
    p.out.host_pid = e->armed().host_pid();
  }
  if (e->has_ended()) {
    p.out.ended_seen = true;
    p.out.ended = e->ended();
    outcome_.last_reason = e->ended().reason();
  }
  if (e->has_error()) {
    p.error_seen = true;
    std::string failure =
        ClassifyPartFailure(CodeFromName(e->error().code()), e->error().message());
    e->mutable_error()->set_failure(failure);
    p.out.failed = true;
    p.out.failure = failure;
    p.out.failure_code = e->error().code();
    p.out.message = e->error().message();
  }
  return true;
}

void MergeRelay::QueueRateNotice(bool flush) {
  std::optional<std::string> notice = rate_.Notice(flush);
  if (!notice.has_value() || cancelled_) return;
  v1::Event e;
  e.set_session_id(session_id_);
  e.set_time_unix_nanos(absl::ToUnixNanos(clock_->Now()));
  e.mutable_notice()->set_kind(v1::NOTICE_KIND_TOTAL_RATE_LIMITED);
  e.mutable_notice()->set_message(*std::move(notice));
  queue_.push_back(std::move(e));
}

void MergeRelay::OnPartRead(size_t i, bool ok) {
  Part& p = *parts_[i];
  Actions a;
  {
    absl::MutexLock lock(&mu_);
    p.reading = false;
    if (ok) {
      p.spoke = true;
      const bool keep = Admit(p, &p.read_buf);
      QueueRateNotice(/*flush=*/false);
      if (keep && !cancelled_) queue_.push_back(std::move(p.read_buf));
      p.read_buf.Clear();
    } else {
      p.reads_ended = true;
    }
    a = Step();
  }
  Run(std::move(a));
}

void MergeRelay::OnPartDone(size_t i, const grpc::Status& status) {
  Part& p = *parts_[i];
  Actions a;
  {
    absl::MutexLock lock(&mu_);
    p.done = true;
    if (!p.out.ended_seen && !p.error_seen && p.out.stop_cancelled) {
      EndPartHere(p, p.stop_reason, StopCancelledMessage(p.stop_reason, p.label, p.stop_error));
    } else if (cb_.on_part_lost && !p.error_seen && !p.cancel_sent &&
               AgentLostMidSession(status, p.spoke, p.out.ended_seen, cancelled_)) {
      // Held open (AllPartsFinished) until OnPartLostAnswered.
      p.asking = true;
      p.lost_end = LostAgentStatus(status, p.label);
      a.lost.emplace_back(i, LabelAgentStatus(status, p.label));
    } else if (!p.out.ended_seen && !p.error_seen) {
      if (status.ok()) {
        QueuePartFailure(
            p, "UNAVAILABLE",
            absl::StrCat("agent ", p.label, " closed the stream without saying how the part ended"),
            "error");
      } else {
        grpc::Status labelled = LabelAgentStatus(status, p.label);
        auto code = static_cast<absl::StatusCode>(labelled.error_code());
        QueuePartFailure(p, absl::StatusCodeToString(code), labelled.error_message(),
                         ClassifyPartFailure(code, labelled.error_message()));
      }
    }
    Actions more = Step();
    more.lost = std::move(a.lost);
    a = std::move(more);
  }
  Run(std::move(a));
}

void MergeRelay::OnPartLostAnswered(size_t i, std::optional<v1::Event> ended) {
  Part& p = *parts_[i];
  Actions a;
  {
    absl::MutexLock lock(&mu_);
    p.asking = false;
    if (TakeRecoveredEnd(&ended, p.out.hits)) {
      p.out.ended_seen = true;
      p.out.ended = ended->ended();
      outcome_.last_reason = ended->ended().reason();
      if (!cancelled_) {
        ended->set_session_id(session_id_);
        ended->set_pod(p.out.pod);
        queue_.push_back(*std::move(ended));
      }
    } else {
      auto code = static_cast<absl::StatusCode>(p.lost_end.error_code());
      QueuePartFailure(p, absl::StatusCodeToString(code), p.lost_end.error_message(),
                       ClassifyPartFailure(code, p.lost_end.error_message()));
    }
    a = Step();
  }
  Run(std::move(a));
}

bool MergeRelay::Running(const Part& p) {
  // A part between StartPart's two halves (starting) counts: its call is being made. One whose
  // EndedEvent came has ended on its agent, though its call may still be closing (`done` comes
  // with the call's OnDone): it is not stopped again.
  return (p.started || p.starting) && !p.done && !p.out.ended_seen;
}

MergeRelay::StoppedFn MergeRelay::BeginStop(std::optional<size_t> only,
                                            std::vector<size_t>* running) {
  absl::MutexLock lock(&mu_);
  ++stops_pending_;  // the relay lives until the returned function is called
  if (!only.has_value()) stop_requested_ = true;
  for (size_t i = 0; i < parts_.size(); ++i) {
    const Part& p = *parts_[i];
    if (only.has_value() && *only != i) continue;
    if (Running(p)) running->push_back(i);
  }
  return [this](const StopFailures& f) { OnStopped(f, v1::END_REASON_STOP_REQUESTED); };
}

void MergeRelay::OnStopped(const StopFailures& failed, v1::EndReason reason) {
  Actions a;
  {
    absl::MutexLock lock(&mu_);
    --stops_pending_;
    for (const auto& [i, why] : failed) {
      if (i >= parts_.size()) continue;
      Part& p = *parts_[i];
      if (!(p.started || p.starting) || p.done || p.cancel_sent) continue;
      p.cancel_sent = true;
      p.stop_error = why;
      p.stop_reason = reason;
      p.out.stop_cancelled = true;
      // A part still starting is cancelled by StartPart once its call is made.
      if (p.started) a.cancel.push_back(i);
    }
    Actions more = Step();
    more.cancel.insert(more.cancel.end(), a.cancel.begin(), a.cancel.end());
    a = std::move(more);
  }
  Run(std::move(a));
}

bool MergeRelay::AllPartsFinished() const {
  for (const auto& p : parts_) {
    if (!p->resolved || p->starting || (p->started && !p->done) || p->asking) return false;
  }
  return true;
}

MergeRelay::Actions MergeRelay::Step() {
  Actions a;
  if (cancelled_) {
    queue_.clear();
    for (size_t i = 0; i < parts_.size(); ++i) {
      Part& p = *parts_[i];
      if (p.started && !p.done && !p.cancel_sent) {
        p.cancel_sent = true;
        a.cancel.push_back(i);
      }
    }
  }
  if (outcome_.hit_limit_reached && !hit_limit_called_ && !cancelled_) {
    hit_limit_called_ = true;
    a.hit_limit = true;
    if (cb_.on_hit_limit) ++stops_pending_;  // the relay lives until `stopped` is called
    for (size_t i = 0; i < parts_.size(); ++i) {
      if (Running(*parts_[i])) a.running.push_back(i);
    }
  }
  for (size_t i = 0; i < parts_.size(); ++i) {
    Part& p = *parts_[i];
    if (p.done && !p.asking && !p.done_reported) {
      p.done_reported = true;
      p.out.client_gone = p.cancel_sent && outcome_.client_gone;
      a.done.push_back(p.out);
    }
  }
  const bool all = failed_ || (setup_done_ && AllPartsFinished());
  if (all && !failed_ && !cancelled_ && !summary_queued_) {
    summary_queued_ = true;
    QueueRateNotice(/*flush=*/true);  // the notices add up to the summary's count
    outcome_.hits_over_total_rate = rate_.over();
    for (const auto& p : parts_) outcome_.parts.push_back(p->out);
    v1::Event e;
    e.set_session_id(session_id_);
    *e.mutable_ended() = BuildSummary(outcome_);
    queue_.push_back(std::move(e));
  }
  if (!writing_ && !cancelled_ && !finish_called_ && !queue_.empty()) {
    write_event_ = std::move(queue_.front());
    queue_.pop_front();
    writing_ = true;
    a.write = true;
  }
  for (size_t i = 0; i < parts_.size(); ++i) {
    Part& p = *parts_[i];
    if (p.started && !p.reads_ended && !p.reading && !cancelled_ && queue_.size() < max_buffered_) {
      p.reading = true;
      a.read.push_back(i);
    }
    if (p.hold && !p.starting && (p.reads_ended || (cancelled_ && !p.reading))) {
      p.hold = false;
      a.remove_hold.push_back(i);
    }
  }
  if (!finish_called_ && all && !writing_ && (cancelled_ || queue_.empty())) {
    finish_called_ = true;
    a.finish = true;
    a.status = outcome_.status;
  }
  finished_ = server_done_ && all;
  ++inflight_;
  return a;
}

void MergeRelay::Run(Actions a) {
  for (size_t i : a.cancel) parts_[i]->ctx.TryCancel();
  if (a.write) {
    write_buf_ = SerializeEvent(write_event_);
    server_.StartWrite(&write_buf_);
  }
  for (size_t i : a.read) parts_[i]->reactor.StartRead(&parts_[i]->read_buf);
  for (size_t i : a.remove_hold) parts_[i]->reactor.RemoveHold();
  if (a.hit_limit && cb_.on_hit_limit) {
    cb_.on_hit_limit(std::move(a.running),
                     [this](const StopFailures& f) { OnStopped(f, v1::END_REASON_MAX_HITS); });
  }
  // Each asked part holds the relay (AllPartsFinished) until its `done` is called.
  for (auto& [i, status] : a.lost) {
    cb_.on_part_lost(i, status, [this, i = i](std::optional<v1::Event> e) {
      OnPartLostAnswered(i, std::move(e));
    });
  }
  if (cb_.on_part_done) {
    for (const PartOutcome& out : a.done) cb_.on_part_done(out);
  }
  if (a.finish) server_.Finish(a.status);
  // on_finished runs once, by the Run() that finds the end with nothing else in flight; it stays
  // in flight meanwhile. The relay is deleted once nothing is in flight, on_finished ran and
  // every `stopped` (on_hit_limit's, BeginStop's) was called. Deciding and counting happen under
  // one lock, so no Run() touches the relay after another decided to delete it.
  MergeOutcome outcome;
  bool report = false, destroy = false;
  {
    absl::MutexLock lock(&mu_);
    --inflight_;
    if (finished_ && inflight_ == 0 && !reported_) {
      reported_ = true;
      report = true;
      ++inflight_;
      outcome = outcome_;
      if (outcome.parts.empty()) {
        for (const auto& p : parts_) outcome.parts.push_back(p->out);
      }
    } else if (reported_ && inflight_ == 0 && stops_pending_ == 0 && !destroyed_) {
      destroyed_ = true;
      destroy = true;
    }
  }
  if (report) {
    if (cb_.on_finished) cb_.on_finished(outcome);
    absl::MutexLock lock(&mu_);
    --inflight_;
    if (inflight_ == 0 && stops_pending_ == 0 && !destroyed_) {
      destroyed_ = true;
      destroy = true;
    }
  }
  if (destroy) delete this;
}

}  // namespace kdbg::controller
