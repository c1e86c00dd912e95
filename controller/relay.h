// Stream relays between a CLI's call on the controller and the controller's call on an agent, both
// on gRPC's callback API (no thread per stream).
//
// EventRelay (Trace, Attach): agent -> CLI events through a bounded queue, as the bytes the agent
// sent (never parsed into messages and serialized again: event_peek.h says why and what is read
// of them). While the queue holds `max_buffered` events the relay stops reading from the agent, so
// a slow CLI slows the agent's stream (HTTP/2 flow control) instead of growing memory. TunnelRelay
// (Tunnel): bytes both ways, at most one frame in flight and one waiting per direction.
//
// Ending: when the CLI vanishes (cancel, failed write) the agent call is cancelled at once, which
// makes the agent end the session safely; when the agent call ends, its status (after the queued
// events) ends the CLI's call. Both objects delete themselves once both calls are done, after
// calling `on_finished` (which must not block: it runs on a gRPC thread).
//
// Setup (authn, authz, routing) runs elsewhere and then calls exactly one of StartAgent or Fail.
#pragma once

#include <cstddef>
#include <deque>
#include <functional>
#include <optional>
#include <string>

#include "absl/synchronization/mutex.h"
#include "grpcpp/client_context.h"
#include "grpcpp/support/byte_buffer.h"
#include "grpcpp/support/client_callback.h"
#include "grpcpp/support/server_callback.h"
#include "kdbg/v1/types.pb.h"

namespace kdbg::controller {

// An agent's non-OK status as the CLI gets it, prefixed with which agent said it ("agent LABEL:
// ..." or, when it could not be reached, "cannot reach the kdbg agent LABEL: ..."); OK and
// CANCELLED unchanged.
grpc::Status LabelAgentStatus(const grpc::Status& s, const std::string& label);

// The end of a session (or part) whose agent was lost mid-session (AgentLostMidSession) and that
// no agent recorded an end for: UNAVAILABLE, "lost the kdbg agent LABEL during the session (RAW
// MESSAGE); ..." saying that the agent's side ends it safely and how to check.
grpc::Status LostAgentStatus(const grpc::Status& raw, const std::string& label);

// An agent call that ended as a killed agent's does: UNAVAILABLE after the agent sent at least one
// event (`agent_spoke`), with no EndedEvent and the CLI still there. Someone else (the agent's
// guardian, its restarted successor) may then know how the session ended: the relays (EventRelay,
// MergeRelay per part) hold the CLI's call open and ask (ServiceOptions::recovered_end_wait).
bool AgentLostMidSession(const grpc::Status& agent_status, bool agent_spoke, bool ended_seen,
                         bool client_gone);
// The answer to that question: true when `answer` carries an EndedEvent, which becomes the
// session's (or part's) end; its hits are `relayed` (the hits the relay passed before the break)
// when it counts none.
bool TakeRecoveredEnd(std::optional<v1::Event>* answer, int64_t relayed);

struct RelayOutcome {
  grpc::Status status;       // what the CLI got
  bool client_gone = false;  // the CLI cancelled or stopped reading
  bool agent_called = false;
  int64_t hits = 0;      // HitEvents relayed (EndedEvent.hits when the agent sent one)
  int32_t host_pid = 0;  // from the ArmedEvent
  bool ended_seen = false;
  v1::EndedEvent ended;
};

// The shape of every relay callback: `change` the relay's state under `mu`, decide what follows
// (`step` returns the actions), and do it after unlocking (`run`), so that no gRPC call is ever
// made under the lock. `run` may delete the relay: nothing touches it afterwards.
template <typename Change, typename Step, typename Run>
void ChangeThenAct(absl::Mutex& mu, Change&& change, Step&& step, Run&& run) {
  decltype(step()) actions;
  {
    absl::MutexLock lock(&mu);
    change();
    actions = step();
  }
  run(actions);
}

class EventRelay {
 public:
  // The agent's call, raw both ways (the request serialized by the caller, the events as sent).
  using AgentReactor = grpc::ClientBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>;
  using StartFn = std::function<void(grpc::ClientContext*, AgentReactor*)>;

  EventRelay(size_t max_buffered, std::function<void(const RelayOutcome&)> on_finished);
  grpc::ServerWriteReactor<grpc::ByteBuffer>* reactor() { return &server_; }

  // Queues an event of the controller's own (progress notices). Thread-safe.
  void Send(const v1::Event& event);
  // Setup failed: the CLI gets `status` after the events already queued.
  void Fail(const grpc::Status& status);
  // Setup succeeded: `start` must bind the reactor to the agent's server-streaming method (Trace
  // or Attach) with grpc::GenericStub::PrepareBidiStreamingCall; the relay sends `request` (that
  // method's request, serialized) as the only message. `agent_label` prefixes the agent's error
  // messages. An event from the agent that is not a well-formed Event ends the session: the
  // agent's call is cancelled (its safe end) and the CLI gets INTERNAL.
  void StartAgent(const std::string& agent_label, const grpc::ByteBuffer& request,
                  const StartFn& start);
  // True once the CLI went away (setup may stop early).
  bool ClientGone();

  // Called when the agent's call fails UNAVAILABLE after the agent sent at least one event, with
  // no EndedEvent and the CLI still there: the agent died mid-session (its container killed) and
  // someone else (its guardian, its restarted successor) may know how the session ended. `lost`
  // runs on a gRPC thread (it must post its work, not block) and must call `done` exactly once:
  // with an Event carrying that EndedEvent (relayed to the CLI; its call then ends OK and the
  // outcome is that end, hits counted here when it has none) or nullopt (the agent's status
  // stands). The CLI's call stays open until `done`; events may be Sent meanwhile. Set before
  // StartAgent.
  using DoneFn = std::function<void(std::optional<v1::Event> ended)>;
  using LostFn = std::function<void(const grpc::Status& agent_status, DoneFn done)>;
  void OnAgentLost(LostFn lost);

 private:
  struct Actions {
    bool write = false, read = false, finish = false, cancel_agent = false, remove_hold = false,
         destroy = false;
    grpc::Status status;
  };
  class ServerSide : public grpc::ServerWriteReactor<grpc::ByteBuffer> {
   public:
    explicit ServerSide(EventRelay* r) : r_(r) {}
    void OnWriteDone(bool ok) override { r_->OnClientWriteDone(ok); }
    void OnCancel() override { r_->OnClientCancel(); }
    void OnDone() override { r_->OnClientDone(); }

   private:
    EventRelay* r_;
  };
  class AgentSide : public AgentReactor {
   public:
    explicit AgentSide(EventRelay* r) : r_(r) {}
    void OnReadDone(bool ok) override { r_->OnAgentReadDone(ok); }
    void OnDone(const grpc::Status& s) override { r_->OnAgentDone(s); }

   private:
    EventRelay* r_;
  };

  void OnClientWriteDone(bool ok);
  void OnClientCancel();
  void OnClientDone();
  void OnAgentReadDone(bool ok);
  void OnAgentDone(const grpc::Status& status);
  void OnLostAnswered(std::optional<v1::Event> ended);
  Actions Step() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Run(const Actions& a);
  // Every callback: ChangeThenAct with this relay's mu_, Step and Run.
  template <typename Change>
  void Update(Change&& change) ABSL_LOCKS_EXCLUDED(mu_) {
    ChangeThenAct(
        mu_, change, [this] { return Step(); }, [this](const Actions& a) { Run(a); });
  }

  const size_t max_buffered_;
  std::function<void(const RelayOutcome&)> on_finished_;
  LostFn lost_;
  ServerSide server_{this};
  AgentSide agent_{this};
  grpc::ClientContext agent_ctx_;
  grpc::ByteBuffer request_;
  grpc::ByteBuffer read_buf_;
  grpc::ByteBuffer write_buf_;

  absl::Mutex mu_;
  std::deque<grpc::ByteBuffer> queue_ ABSL_GUARDED_BY(mu_);
  std::string agent_label_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool reading_ ABSL_GUARDED_BY(mu_) = false;
  bool setup_done_ ABSL_GUARDED_BY(mu_) = false;
  bool agent_starting_ ABSL_GUARDED_BY(mu_) = false;
  bool agent_started_ ABSL_GUARDED_BY(mu_) = false;
  bool agent_reads_ended_ ABSL_GUARDED_BY(mu_) = false;
  bool agent_done_ ABSL_GUARDED_BY(mu_) = false;
  bool agent_spoke_ ABSL_GUARDED_BY(mu_) = false;  // at least one event came from the agent
  bool asking_ ABSL_GUARDED_BY(mu_) = false;       // `lost_` called, `done` not yet
  grpc::Status lost_end_ ABSL_GUARDED_BY(mu_);     // the end when no agent recorded one
  grpc::Status malformed_ ABSL_GUARDED_BY(mu_);    // an event that was not one: the end
  bool hold_ ABSL_GUARDED_BY(mu_) = false;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  bool agent_cancel_sent_ ABSL_GUARDED_BY(mu_) = false;
  bool finish_called_ ABSL_GUARDED_BY(mu_) = false;
  bool server_done_ ABSL_GUARDED_BY(mu_) = false;
  bool destroyed_ ABSL_GUARDED_BY(mu_) = false;
  RelayOutcome outcome_ ABSL_GUARDED_BY(mu_);
};

class TunnelRelay {
 public:
  using StartFn = std::function<void(grpc::ClientContext*,
                                     grpc::ClientBidiReactor<v1::TunnelFrame, v1::TunnelFrame>*)>;

  // `on_first_frame` runs (on a gRPC thread; must not block) once the CLI's first frame, which
  // names the session, has arrived; it must lead to StartAgent or Fail.
  TunnelRelay(std::function<void(TunnelRelay*, const v1::TunnelFrame&)> on_first_frame,
              std::function<void(const RelayOutcome&)> on_finished);
  grpc::ServerBidiReactor<v1::TunnelFrame, v1::TunnelFrame>* reactor() { return &server_; }

  void Fail(const grpc::Status& status);
  // Sends the first frame to the agent, then relays both ways.
  void StartAgent(const std::string& agent_label, const StartFn& start);

 private:
  struct Actions {
    bool first = false, server_read = false, server_write = false, agent_read = false,
         agent_write = false, writes_done = false, finish = false, cancel_agent = false,
         remove_hold = false, destroy = false;
    grpc::Status status;
  };
  class ServerSide : public grpc::ServerBidiReactor<v1::TunnelFrame, v1::TunnelFrame> {
   public:
    explicit ServerSide(TunnelRelay* r) : r_(r) {}
    void OnReadDone(bool ok) override { r_->OnClientReadDone(ok); }
    void OnWriteDone(bool ok) override { r_->OnClientWriteDone(ok); }
    void OnCancel() override { r_->OnClientCancel(); }
    void OnDone() override { r_->OnClientDone(); }

   private:
    TunnelRelay* r_;
  };
  class AgentSide : public grpc::ClientBidiReactor<v1::TunnelFrame, v1::TunnelFrame> {
   public:
    explicit AgentSide(TunnelRelay* r) : r_(r) {}
    void OnReadDone(bool ok) override { r_->OnAgentReadDone(ok); }
    void OnWriteDone(bool ok) override { r_->OnAgentWriteDone(ok); }
    void OnWritesDoneDone(bool ok) override {}
    void OnDone(const grpc::Status& s) override { r_->OnAgentDone(s); }

   private:
    TunnelRelay* r_;
  };

  void OnClientReadDone(bool ok);
  void OnClientWriteDone(bool ok);
  void OnClientCancel();
  void OnClientDone();
  void OnAgentReadDone(bool ok);
  void OnAgentWriteDone(bool ok);
  void OnAgentDone(const grpc::Status& status);
  Actions Step() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Run(const Actions& a);
  // Every callback: ChangeThenAct with this relay's mu_, Step and Run.
  template <typename Change>
  void Update(Change&& change) ABSL_LOCKS_EXCLUDED(mu_) {
    ChangeThenAct(
        mu_, change, [this] { return Step(); }, [this](const Actions& a) { Run(a); });
  }

  std::function<void(TunnelRelay*, const v1::TunnelFrame&)> on_first_frame_;
  std::function<void(const RelayOutcome&)> on_finished_;
  ServerSide server_{this};
  AgentSide agent_{this};
  grpc::ClientContext agent_ctx_;
  v1::TunnelFrame first_;
  v1::TunnelFrame client_in_, up_out_;   // CLI -> agent
  v1::TunnelFrame agent_in_, down_out_;  // agent -> CLI

  absl::Mutex mu_;
  std::string agent_label_ ABSL_GUARDED_BY(mu_);
  bool got_first_ ABSL_GUARDED_BY(mu_) = false;
  bool setup_done_ ABSL_GUARDED_BY(mu_) = false;
  bool agent_starting_ ABSL_GUARDED_BY(mu_) = false;
  bool agent_started_ ABSL_GUARDED_BY(mu_) = false;
  bool agent_done_ ABSL_GUARDED_BY(mu_) = false;
  bool hold_ ABSL_GUARDED_BY(mu_) = false;
  bool client_reading_ ABSL_GUARDED_BY(mu_) = false;
  bool client_reads_ended_ ABSL_GUARDED_BY(mu_) = false;
  bool up_pending_ ABSL_GUARDED_BY(mu_) = false;
  bool agent_writing_ ABSL_GUARDED_BY(mu_) = false;
  bool writes_done_sent_ ABSL_GUARDED_BY(mu_) = false;
  bool agent_reading_ ABSL_GUARDED_BY(mu_) = false;
  bool agent_reads_ended_ ABSL_GUARDED_BY(mu_) = false;
  bool down_pending_ ABSL_GUARDED_BY(mu_) = false;
  bool client_writing_ ABSL_GUARDED_BY(mu_) = false;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  bool agent_cancel_sent_ ABSL_GUARDED_BY(mu_) = false;
  bool finish_called_ ABSL_GUARDED_BY(mu_) = false;
  bool server_done_ ABSL_GUARDED_BY(mu_) = false;
  bool destroyed_ ABSL_GUARDED_BY(mu_) = false;
  RelayOutcome outcome_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kdbg::controller
