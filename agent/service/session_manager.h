// SessionManager: admits, runs and ends the agent's debug sessions.
//
// Each session runs on a thread of its own, which does everything that blocks: resolve the target
// (Resolver), claim its PID, verify it, start Delve (DebugSessionFactory::StartTrace/StartAttach),
// then wait for the engine to end the session. The engine's events go into the session's
// EventStream, which a gRPC reactor drains; the reactor never blocks.
//
// Rules enforced here:
//   - at most `max_sessions` sessions at once on the node: Start fails with ResourceExhausted;
//   - at most one session per target process: the second gets ErrorEvent + ALREADY_EXISTS on its
//     stream (the PID is only known after resolution);
//   - every session holds a lease (request's lease_ms, else default_lease, capped at max_lease);
//     CheckLeases() ends expired ones with END_REASON_LEASE_EXPIRED;
//   - Shutdown() refuses new sessions (Unavailable) and ends every session with the given reason.
//
// Every way a session ends goes through DebugSession::RequestEnd, so the engine's safe end runs.
// Thread-safe. The Resolver, factory, clock and metrics must outlive the manager; the destructor
// ends all sessions (END_REASON_AGENT_SHUTDOWN) and joins their threads.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "agent/delve/debug_session.h"
#include "agent/resolver/resolver.h"
#include "agent/service/debug_binary_store.h"
#include "agent/service/event_stream.h"
#include "agent/service/metrics.h"
#include "common/clock.h"
#include "common/grpc_status.h"
#include "kdbg/v1/agent.pb.h"

namespace kdbg::agent {

struct SessionRequest {
  kdbg::v1::SessionMode mode = kdbg::v1::SESSION_MODE_TRACE;
  kdbg::v1::TargetRef target;
  kdbg::v1::TraceOptions options;  // trace mode; attach mode uses only allow_unsupported_go
  std::string user;                // as the controller authenticated them
  int64_t lease_ms = 0;
  std::string session_id;  // empty: the manager makes one
  std::string caller;      // the client certificate's identity ("CN=kdbg-controller")
  // An upload in Options::debug_binaries (same user and target) for a stripped target: claimed by
  // Start, its build ID checked against the target's, handed to Delve, deleted when the session
  // ends however it ends.
  std::string debug_binary_id;
  // The target's stop limit (AttachRequest/TraceRequest.max_stop_ms); 0: none.
  int64_t max_stop_ms = 0;
};

// The key DebugBinaryStore::Owner uses for a target: its container ID, else "pid N".
std::string DebugBinaryTargetKey(const kdbg::v1::TargetRef& target);

class SessionManager;

class Session {
 public:
  const std::string& id() const { return id_; }
  kdbg::v1::SessionMode mode() const { return request_.mode; }
  const SessionRequest& request() const { return request_; }
  std::shared_ptr<EventStream> stream() const { return stream_; }

  kdbg::v1::SessionInfo Info() const;
  // Starts the safe end. Non-blocking, idempotent: the first reason wins.
  void RequestEnd(kdbg::v1::EndReason reason);
  // "127.0.0.1:PORT" of Delve once an attach session is attached; empty before and in trace mode.
  std::string delve_address() const;
  bool Ended() const;
  // Attach mode: the remote client sent a request through a tunnel. True: its bytes may go to Delve
  // now; false: the tunnel holds them until `ready` runs (DebugSession::NoteClientActivity: once,
  // on the engine's thread, with no lock of the session's held). Thread-safe, non-blocking.
  bool NoteClientActivity(std::function<void()> ready);
  // A notice for the session's user, in order with the engine's events (DebugSession::TellUser);
  // dropped once the session has ended. Thread-safe, non-blocking.
  void TellUser(kdbg::v1::NoticeKind kind, const std::string& message);
  // Runs `fn` with the session's EndedEvent once it has ended (at once, on this thread, if it has).
  // A session that never started reports reason END_REASON_ERROR and the error as message.
  void OnEnded(std::function<void(const kdbg::v1::EndedEvent&)> fn);
  // Attach mode: `fn` runs with the text for a remote client each time the engine resumes a stop
  // held past the stop limit (NOTICE_KIND_STOP_LIMIT, "kdbg: pod NS/NAME: the target was stopped
  // for ..."), from now on, on the session's thread, with no lock of the session held; it must not
  // block (the tunnels hand it to their reactor). Returns an id for RemoveStopLimitListener.
  // Each tunnel registers one for as long as it is open, so their number is the number of remote
  // clients connected: the engine is told it at each change (DebugSession::
  // NoteClientConnections).
  int AddStopLimitListener(std::function<void(const std::string&)> fn);
  void RemoveStopLimitListener(int id);
  // Registers `closer` to run when the session ends (tunnels to its Delve). Returns false, without
  // running it, when the session has already ended.
  bool AddCloser(std::function<void()> closer);

 private:
  friend class SessionManager;
  // `start`: wall time, as listed; `started`: the same moment on the clock's monotonic timeline,
  // from which the lease and the session's duration are measured.
  Session(std::string id, SessionRequest request, absl::Time start, absl::Time started,
          absl::Duration lease, size_t queue);

  const std::string id_;
  const SessionRequest request_;
  const absl::Time start_;
  const absl::Time started_;
  const absl::Duration lease_;
  const std::shared_ptr<EventStream> stream_;
  std::atomic<int64_t> hits_{0};

  // Delivery of the engine's events, in order. The engine emits "ready" (attach) or "armed"
  // (trace) before StartAttach/StartTrace returns, i.e. before the session has recorded its Delve
  // address and its state: a client that reacts to "ready" by opening a tunnel must find the
  // session attached, and one that lists sessions after "armed" must see it tracing, so "ready" and
  // "armed" (and what follows them) are held until the engine is recorded (in SessionManager::Run).
  absl::Mutex deliver_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  bool engine_recorded_ = false;              // under mu_
  std::vector<kdbg::v1::Event> held_events_;  // under mu_

  mutable absl::Mutex mu_;
  kdbg::v1::SessionState state_ = kdbg::v1::SESSION_STATE_ATTACHING;
  int32_t host_pid_ = 0;
  std::string delve_address_;
  kdbg::v1::EndReason end_reason_ = kdbg::v1::END_REASON_UNSPECIFIED;
  std::unique_ptr<DebugSession> debug_;
  bool ended_ = false;
  kdbg::v1::EndedEvent ended_event_;
  std::vector<std::function<void(const kdbg::v1::EndedEvent&)>> on_ended_;
  std::vector<std::function<void()>> closers_;
  std::map<int, std::function<void(const std::string&)>> stop_limit_listeners_;
  int next_listener_id_ = 0;
  std::shared_ptr<DebugBinary> debug_binary_;  // released (file deleted) when the session ends
};

class SessionManager {
 public:
  struct Options {
    std::string node_name;
    int max_sessions = 16;
    absl::Duration default_lease = absl::Minutes(10);
    absl::Duration max_lease = absl::Hours(1);
    size_t event_queue_capacity = 4096;
    int max_hits_per_second = 0;  // passed to the engine when the request gives none
    // Targets named by a bare host PID instead of a container ID: any process on the node,
    // including node daemons and protected namespaces. The controller never sends them; a
    // deployed agent refuses them (serve's --allow-host-pid, off by default).
    bool allow_host_pid = true;
    // Where `--debug-binary` uploads wait for their session; null: requests naming one are
    // refused.
    DebugBinaryStore* debug_binaries = nullptr;
  };

  SessionManager(Options options, Resolver* resolver, DebugSessionFactory* factory, Clock* clock,
                 AgentMetrics* metrics);
  ~SessionManager();
  SessionManager(const SessionManager&) = delete;
  SessionManager& operator=(const SessionManager&) = delete;

  // Admits a session and starts it on its own thread; events then arrive on its stream().
  // Errors: ResourceExhausted (node limit), AlreadyExists (session id in use), Unavailable
  // (shutting down), InvalidArgument (no target, or a trace without a script), NotFound /
  // PermissionDenied (a debug_binary_id this store cannot hand to this user and target).
  absl::StatusOr<std::shared_ptr<Session>> Start(SessionRequest request);

  std::shared_ptr<Session> Find(const std::string& id) const;
  std::vector<kdbg::v1::SessionInfo> List() const;
  int size() const;

  // Ends every session whose lease has passed; joins finished session threads. Returns how many
  // sessions it ended.
  int CheckLeases();

  // Refuses new sessions, ends every running one with `reason`, and waits (real time) up to
  // `timeout` for them to end. Returns how many are still running.
  int Shutdown(kdbg::v1::EndReason reason, absl::Duration timeout);

 private:
  void Run(const std::shared_ptr<Session>& s);
  void Fail(const std::shared_ptr<Session>& s, const absl::Status& status,
            const std::string& stage);
  void Finish(const std::shared_ptr<Session>& s, const kdbg::v1::EndedEvent& ended);
  void OnEngineEvent(Session* s, kdbg::v1::Event event);
  // Pushes one event to the session's stream (counting hits and drops). Caller holds deliver_mu_.
  void Deliver(Session* s, kdbg::v1::Event event);
  void Remove(const std::shared_ptr<Session>& s);
  // Last act of a session's thread: hands its std::thread to the reaper.
  void Retire(const std::string& id);
  void ReapLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Options options_;
  Resolver* const resolver_;
  DebugSessionFactory* const factory_;
  Clock* const clock_;
  AgentMetrics* const metrics_;

  mutable absl::Mutex mu_;
  bool draining_ ABSL_GUARDED_BY(mu_) = false;
  std::map<std::string, std::shared_ptr<Session>> sessions_ ABSL_GUARDED_BY(mu_);
  std::map<int32_t, std::string> pids_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::thread> threads_ ABSL_GUARDED_BY(mu_);
  std::vector<std::thread> finished_threads_ ABSL_GUARDED_BY(mu_);
  int running_ ABSL_GUARDED_BY(mu_) = 0;
};

// absl -> gRPC status at this service's edge: the one mapping in common/grpc_status.h.
using ::kdbg::ToGrpcStatus;

}  // namespace kdbg::agent
