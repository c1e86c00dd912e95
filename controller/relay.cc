#include "controller/relay.h"

#include "absl/strings/str_cat.h"
#include "common/grpc_status.h"
#include "controller/event_peek.h"

namespace kdbg::controller {

grpc::Status LabelAgentStatus(const grpc::Status& s, const std::string& label) {
  if (s.ok() || s.error_code() == grpc::StatusCode::CANCELLED) return s;
  std::string msg = s.error_message();
  if (s.error_code() == grpc::StatusCode::UNAVAILABLE ||
      s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
    msg = absl::StrCat("cannot reach the kdbg agent ", label, ": ", msg);
  } else {
    msg = absl::StrCat("agent ", label, ": ", msg);
  }
  return grpc::Status(s.error_code(), msg, kAnsweredByKdbg);
}

grpc::Status LostAgentStatus(const grpc::Status& raw, const std::string& label) {
  return grpc::Status(
      grpc::StatusCode::UNAVAILABLE,
      absl::StrCat("lost the kdbg agent ", label, " during the session (", raw.error_message(),
                   "); the agent ends the session safely on its side (after a cut link once it "
                   "notices, within about 20 s; after a crash, its guardian or restarted agent): "
                   "check with `kdbg sessions`"),
      kAnsweredByKdbg);
}

bool AgentLostMidSession(const grpc::Status& agent_status, bool agent_spoke, bool ended_seen,
                         bool client_gone) {
  return agent_status.error_code() == grpc::StatusCode::UNAVAILABLE && agent_spoke && !ended_seen &&
         !client_gone;
}

bool TakeRecoveredEnd(std::optional<v1::Event>* answer, int64_t relayed) {
  if (!answer->has_value() || !(*answer)->has_ended()) return false;
  if ((*answer)->ended().hits() == 0) (*answer)->mutable_ended()->set_hits(relayed);
  return true;
}

// ---------------------------------------------------------------------------------------------
// EventRelay

EventRelay::EventRelay(size_t max_buffered, std::function<void(const RelayOutcome&)> on_finished)
    : max_buffered_(max_buffered < 1 ? 1 : max_buffered), on_finished_(std::move(on_finished)) {}

void EventRelay::Send(const v1::Event& event) {
  grpc::ByteBuffer bytes = SerializeEvent(event);
  Update([&] {
    if (!cancelled_ && !finish_called_) queue_.emplace_back().Swap(&bytes);
  });
}

void EventRelay::Fail(const grpc::Status& status) {
  Update([&] {
    setup_done_ = true;
    outcome_.status = status;
  });
}

void EventRelay::OnAgentLost(LostFn lost) { lost_ = std::move(lost); }

bool EventRelay::ClientGone() {
  absl::MutexLock lock(&mu_);
  return cancelled_;
}

void EventRelay::StartAgent(const std::string& agent_label, const grpc::ByteBuffer& request,
                            const StartFn& start) {
  Actions early;
  bool gone = false;
  {
    absl::MutexLock lock(&mu_);
    setup_done_ = true;
    agent_label_ = agent_label;
    if (cancelled_) {
      outcome_.status = grpc::Status(grpc::StatusCode::CANCELLED, "the client went away");
      early = Step();
      gone = true;
    } else {
      agent_starting_ = true;
      reading_ = true;
      hold_ = true;
      outcome_.agent_called = true;
    }
  }
  if (gone) {
    Run(early);
    return;
  }
  request_ = request;  // shares its slices
  start(&agent_ctx_, &agent_);
  agent_.AddHold();
  agent_.StartWriteLast(&request_, grpc::WriteOptions());
  agent_.StartRead(&read_buf_);
  agent_.StartCall();
  Actions a;
  {
    absl::MutexLock lock(&mu_);
    agent_starting_ = false;
    agent_started_ = true;
    if (cancelled_ && !agent_cancel_sent_) {
      agent_cancel_sent_ = true;
      a.cancel_agent = true;
    }
    Actions b = Step();
    b.cancel_agent = b.cancel_agent || a.cancel_agent;
    a = std::move(b);
  }
  Run(a);
}

void EventRelay::OnClientWriteDone(bool ok) {
  Update([&] {
    writing_ = false;
    write_buf_.Clear();
    if (!ok) {
      cancelled_ = true;
      outcome_.client_gone = true;
    }
  });
}

void EventRelay::OnClientCancel() {
  Update([&] {
    cancelled_ = true;
    outcome_.client_gone = true;
  });
}

void EventRelay::OnClientDone() {
  Update([&] { server_done_ = true; });
}

void EventRelay::OnAgentReadDone(bool ok) {
  Update([&] {
    reading_ = false;
    if (!ok) {
      agent_reads_ended_ = true;
      return;
    }
    agent_spoke_ = true;
    absl::StatusOr<EventPeek> peek = PeekEvent(read_buf_);
    if (!peek.ok()) {
      // Read no more; Step cancels the agent's call (its safe end) and the CLI gets this.
      agent_reads_ended_ = true;
      malformed_ = grpc::Status(grpc::StatusCode::INTERNAL,
                                absl::StrCat("agent ", agent_label_,
                                             " sent an event the controller "
                                             "cannot read (",
                                             peek.status().message(), "); the session was ended"),
                                kAnsweredByKdbg);
      read_buf_.Clear();
      return;
    }
    // Calls, not returns (HitEvent.returned), as the agent counts them.
    outcome_.hits += peek->hits;
    if (peek->armed) outcome_.host_pid = peek->armed->host_pid();
    if (peek->ended) {
      outcome_.ended_seen = true;
      outcome_.ended = *peek->ended;
      outcome_.hits = peek->ended->hits();
    }
    if (!cancelled_) queue_.emplace_back().Swap(&read_buf_);
    read_buf_.Clear();
  });
}

void EventRelay::OnAgentDone(const grpc::Status& status) {
  bool ask = false;
  grpc::Status labelled;
  Update([&] {
    agent_done_ = true;
    outcome_.status = malformed_.ok() ? LabelAgentStatus(status, agent_label_) : malformed_;
    if (lost_ && AgentLostMidSession(status, agent_spoke_, outcome_.ended_seen, cancelled_)) {
      asking_ = true;  // holds the CLI's call (and this object) until OnLostAnswered
      ask = true;
      labelled = outcome_.status;
      lost_end_ = LostAgentStatus(status, agent_label_);
    }
  });
  if (ask) lost_(labelled, [this](std::optional<v1::Event> e) { OnLostAnswered(std::move(e)); });
}

void EventRelay::OnLostAnswered(std::optional<v1::Event> ended) {
  Update([&] {
    asking_ = false;
    if (TakeRecoveredEnd(&ended, outcome_.hits)) {
      outcome_.ended_seen = true;
      outcome_.ended = ended->ended();
      outcome_.status = grpc::Status::OK;
      if (!cancelled_) queue_.push_back(SerializeEvent(*ended));
    } else {
      outcome_.status = lost_end_;
    }
  });
}

EventRelay::Actions EventRelay::Step() {
  Actions a;
  const bool agent_live = agent_started_ && !agent_done_;
  if (cancelled_) queue_.clear();
  if ((cancelled_ || !malformed_.ok()) && agent_live && !agent_cancel_sent_) {
    agent_cancel_sent_ = true;
    a.cancel_agent = true;
  }
  if (!writing_ && !cancelled_ && !finish_called_ && !queue_.empty()) {
    write_buf_.Swap(&queue_.front());
    queue_.pop_front();
    writing_ = true;
    a.write = true;
  }
  if (agent_started_ && !agent_reads_ended_ && !reading_ && !cancelled_ &&
      queue_.size() < max_buffered_) {
    reading_ = true;
    a.read = true;
  }
  if (hold_ && !agent_starting_ && (agent_reads_ended_ || (cancelled_ && !reading_))) {
    hold_ = false;
    a.remove_hold = true;
  }
  const bool agent_finished = !agent_starting_ && !asking_ && (!agent_started_ || agent_done_);
  if (!finish_called_ && setup_done_ && agent_finished && !writing_ &&
      (cancelled_ || queue_.empty())) {
    finish_called_ = true;
    a.finish = true;
    a.status = outcome_.status;
  }
  if (server_done_ && setup_done_ && agent_finished && !destroyed_) {
    destroyed_ = true;
    a.destroy = true;
  }
  return a;
}

void EventRelay::Run(const Actions& a) {
  if (a.cancel_agent) agent_ctx_.TryCancel();
  if (a.write) server_.StartWrite(&write_buf_);
  if (a.read) agent_.StartRead(&read_buf_);
  if (a.remove_hold) agent_.RemoveHold();
  if (a.finish) server_.Finish(a.status);
  if (a.destroy) {
    RelayOutcome outcome;
    {
      absl::MutexLock lock(&mu_);
      outcome = outcome_;
    }
    if (on_finished_) on_finished_(outcome);
    delete this;
  }
}

// ---------------------------------------------------------------------------------------------
// TunnelRelay

TunnelRelay::TunnelRelay(std::function<void(TunnelRelay*, const v1::TunnelFrame&)> on_first_frame,
                         std::function<void(const RelayOutcome&)> on_finished)
    : on_first_frame_(std::move(on_first_frame)), on_finished_(std::move(on_finished)) {
  server_.StartRead(&first_);
}

void TunnelRelay::Fail(const grpc::Status& status) {
  Update([&] {
    setup_done_ = true;
    outcome_.status = status;
  });
}

void TunnelRelay::StartAgent(const std::string& agent_label, const StartFn& start) {
  Actions early;
  bool gone = false;
  {
    absl::MutexLock lock(&mu_);
    setup_done_ = true;
    agent_label_ = agent_label;
    if (cancelled_) {
      outcome_.status = grpc::Status(grpc::StatusCode::CANCELLED, "the client went away");
      early = Step();
      gone = true;
    } else {
      agent_starting_ = true;
      agent_writing_ = true;  // the first frame
      agent_reading_ = true;
      hold_ = true;
      outcome_.agent_called = true;
    }
  }
  if (gone) {
    Run(early);
    return;
  }
  start(&agent_ctx_, &agent_);
  agent_.AddHold();
  agent_.StartWrite(&first_);
  agent_.StartRead(&agent_in_);
  agent_.StartCall();
  Update([&] {
    agent_starting_ = false;
    agent_started_ = true;
  });
}

void TunnelRelay::OnClientReadDone(bool ok) {
  Actions a;
  {
    absl::MutexLock lock(&mu_);
    client_reading_ = false;
    if (!got_first_) {
      got_first_ = true;
      if (!ok) {
        setup_done_ = true;
        client_reads_ended_ = true;
        outcome_.status = grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                       "the tunnel closed before its first frame (session id)");
      } else {
        a.first = true;
      }
    } else if (ok) {
      up_pending_ = true;
    } else {
      client_reads_ended_ = true;
    }
    Actions b = Step();
    b.first = a.first;
    a = std::move(b);
  }
  Run(a);
}

void TunnelRelay::OnClientWriteDone(bool ok) {
  Update([&] {
    client_writing_ = false;
    if (!ok) {
      cancelled_ = true;
      outcome_.client_gone = true;
    }
  });
}

void TunnelRelay::OnClientCancel() {
  Update([&] {
    cancelled_ = true;
    outcome_.client_gone = true;
  });
}

void TunnelRelay::OnClientDone() {
  Update([&] { server_done_ = true; });
}

void TunnelRelay::OnAgentReadDone(bool ok) {
  Update([&] {
    agent_reading_ = false;
    if (ok) {
      down_pending_ = true;
    } else {
      agent_reads_ended_ = true;
    }
  });
}

void TunnelRelay::OnAgentWriteDone(bool ok) {
  Update([&] {
    agent_writing_ = false;
    (void)ok;  // a failed write means the call is ending: the read side reports it
  });
}

void TunnelRelay::OnAgentDone(const grpc::Status& status) {
  Update([&] {
    agent_done_ = true;
    outcome_.status = LabelAgentStatus(status, agent_label_);
  });
}

TunnelRelay::Actions TunnelRelay::Step() {
  Actions a;
  const bool relaying = agent_started_ && !agent_done_;
  if (cancelled_) {
    down_pending_ = false;
    up_pending_ = false;
    if (relaying && !agent_cancel_sent_) {
      agent_cancel_sent_ = true;
      a.cancel_agent = true;
    }
  }
  if (relaying && !cancelled_) {
    // CLI -> agent.
    if (up_pending_ && !agent_writing_ && !agent_reads_ended_) {
      up_out_ = std::move(client_in_);
      client_in_.Clear();
      up_pending_ = false;
      agent_writing_ = true;
      a.agent_write = true;
    } else if (up_pending_ && agent_reads_ended_) {
      up_pending_ = false;  // the agent's side is gone: drop
    }
    if (!client_reading_ && !client_reads_ended_ && !up_pending_ && !agent_reads_ended_ &&
        !finish_called_) {
      client_reading_ = true;
      a.server_read = true;
    }
    if (client_reads_ended_ && !up_pending_ && !agent_writing_ && !writes_done_sent_ &&
        !agent_reads_ended_) {
      writes_done_sent_ = true;
      a.writes_done = true;
    }
    // agent -> CLI.
    if (down_pending_ && !client_writing_ && !finish_called_) {
      down_out_ = std::move(agent_in_);
      agent_in_.Clear();
      down_pending_ = false;
      client_writing_ = true;
      a.server_write = true;
    }
    if (!agent_reading_ && !down_pending_ && !agent_reads_ended_) {
      agent_reading_ = true;
      a.agent_read = true;
    }
  }
  if (hold_ && !agent_starting_ && !agent_writing_ &&
      (writes_done_sent_ || cancelled_ || agent_reads_ended_)) {
    hold_ = false;
    a.remove_hold = true;
  }
  const bool agent_finished = !agent_starting_ && (!agent_started_ || agent_done_);
  if (!finish_called_ && setup_done_ && agent_finished && !client_writing_ &&
      (cancelled_ || !down_pending_)) {
    finish_called_ = true;
    a.finish = true;
    a.status = outcome_.status;
  }
  if (server_done_ && setup_done_ && agent_finished && !destroyed_) {
    destroyed_ = true;
    a.destroy = true;
  }
  return a;
}

void TunnelRelay::Run(const Actions& a) {
  if (a.first) on_first_frame_(this, first_);
  if (a.cancel_agent) agent_ctx_.TryCancel();
  if (a.agent_write) agent_.StartWrite(&up_out_);
  if (a.writes_done) agent_.StartWritesDone();
  if (a.agent_read) agent_.StartRead(&agent_in_);
  if (a.server_read) server_.StartRead(&client_in_);
  if (a.server_write) server_.StartWrite(&down_out_);
  if (a.remove_hold) agent_.RemoveHold();
  if (a.finish) server_.Finish(a.status);
  if (a.destroy) {
    RelayOutcome outcome;
    {
      absl::MutexLock lock(&mu_);
      outcome = outcome_;
    }
    if (on_finished_) on_finished_(outcome);
    delete this;
  }
}

}  // namespace kdbg::controller
