// The Controller gRPC service (proto/kdbg/v1/controller.proto) on the callback API.
//
// Per call: authenticate (TokenReview), authorize (SubjectAccessReview on debugsessions.kdbg.io),
// apply policy, re-read the pod, pick the container, find the node's agent, audit, then relay.
// Everything that blocks runs on the WorkQueue; reactions only move messages.
//
// Verbs: Trace, Attach, Tunnel, UploadDebugBinary: "create"; Resolve, ListFunctions: "create";
// ListSessions:
// "list" per namespace; StopSession: "delete" on the session's pod; Version: authentication only.
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/work_queue.h"
#include "controller/agent_channels.h"
#include "controller/audit.h"
#include "controller/auth.h"
#include "controller/merge_relay.h"
#include "controller/policy.h"
#include "controller/relay.h"
#include "controller/routing.h"
#include "controller/upload_relay.h"
#include "kdbg/v1/controller.grpc.pb.h"
#include "kube/client.h"

namespace kdbg::controller {

struct ServiceDeps {
  kube::Client* kube = nullptr;
  Authorizer* auth = nullptr;
  AgentDirectory* agents = nullptr;
  AgentChannels* channels = nullptr;
  const Policy* policy = nullptr;
  SessionLimiter* limiter = nullptr;
  Auditor* auditor = nullptr;
  WorkQueue* work = nullptr;
  Clock* clock = nullptr;
};

struct ServiceOptions {
  size_t max_buffered_events = 64;                        // per Trace/Attach stream
  absl::Duration agent_call_timeout = absl::Seconds(10);  // unary agent calls
  // When an agent dies mid-session (its stream breaks, UNAVAILABLE), how long the controller keeps
  // asking the node's agent (StopSession of the session's ID, every recovered_end_interval) for
  // the end its guardian or its restarted successor recorded (agent/service/recovered_sessions.h)
  // before auditing ERROR. Covers the container's restart.
  absl::Duration recovered_end_wait = absl::Seconds(30);
  absl::Duration recovered_end_interval = absl::Milliseconds(500);
};

// A session this controller opened and still relays.
struct ActiveSession {
  std::string id;
  v1::SessionMode mode = v1::SESSION_MODE_UNSPECIFIED;
  std::string user;
  std::string ns, pod, pod_uid, container, node;
  AgentEndpoint agent;
};

// The callback service of every method, Trace and Attach raw: their events are relayed as the
// agents' bytes (relay.h, event_peek.h); the CLI's typed client reads the same wire format.
// (v1::Controller::CallbackService with the raw two on top would keep the typed Trace and Attach
// underneath, hidden.) A method added to the service must be added here.
namespace controller_service {
using v1::Controller;
using Base = Controller::WithCallbackMethod_Resolve<
    Controller::WithRawCallbackMethod_Trace<Controller::WithRawCallbackMethod_Attach<
        Controller::WithCallbackMethod_Tunnel<Controller::WithCallbackMethod_UploadDebugBinary<
            Controller::WithCallbackMethod_ListSessions<
                Controller::WithCallbackMethod_StopSession<Controller::WithCallbackMethod_Version<
                    Controller::WithCallbackMethod_ListFunctions<Controller::Service>>>>>>>>>;
}  // namespace controller_service
using ControllerServiceBase = controller_service::Base;

class ControllerService final : public ControllerServiceBase {
 public:
  ControllerService(ServiceDeps deps, ServiceOptions options) : d_(deps), options_(options) {}

  grpc::ServerUnaryReactor* Resolve(grpc::CallbackServerContext* ctx,
                                    const v1::ControllerResolveRequest* req,
                                    v1::ControllerResolveResponse* resp) override;
  // `req`: a ControllerTraceRequest, ControllerAttachRequest (serialized).
  grpc::ServerWriteReactor<grpc::ByteBuffer>* Trace(grpc::CallbackServerContext* ctx,
                                                    const grpc::ByteBuffer* req) override;
  grpc::ServerWriteReactor<grpc::ByteBuffer>* Attach(grpc::CallbackServerContext* ctx,
                                                     const grpc::ByteBuffer* req) override;
  grpc::ServerBidiReactor<v1::TunnelFrame, v1::TunnelFrame>* Tunnel(
      grpc::CallbackServerContext* ctx) override;
  grpc::ServerReadReactor<v1::ControllerDebugBinaryChunk>* UploadDebugBinary(
      grpc::CallbackServerContext* ctx, v1::DebugBinaryUploaded* resp) override;
  grpc::ServerUnaryReactor* ListSessions(grpc::CallbackServerContext* ctx,
                                         const v1::ControllerListSessionsRequest* req,
                                         v1::ControllerListSessionsResponse* resp) override;
  grpc::ServerUnaryReactor* StopSession(grpc::CallbackServerContext* ctx,
                                        const v1::ControllerStopSessionRequest* req,
                                        v1::ControllerStopSessionResponse* resp) override;
  grpc::ServerUnaryReactor* Version(grpc::CallbackServerContext* ctx,
                                    const v1::ControllerVersionRequest* req,
                                    v1::ControllerVersionResponse* resp) override;
  // `kdbg funcs` and quick trace: checked exactly as Resolve (the dry run of a session), audited
  // as rpc "funcs", relayed to the pod's agent.
  grpc::ServerUnaryReactor* ListFunctions(grpc::CallbackServerContext* ctx,
                                          const v1::ControllerListFunctionsRequest* req,
                                          v1::FunctionList* resp) override;

  // Sessions currently relayed by this controller (for tests and metrics).
  int ActiveSessions();

 private:
  struct StreamState;
  struct FanoutState;
  // Sessions over several pods (ControllerTraceRequest.pods): one part per pod, merged.
  grpc::ServerWriteReactor<grpc::ByteBuffer>* TraceMany(grpc::CallbackServerContext* ctx,
                                                        const v1::ControllerTraceRequest& req);
  void SetupFanout(grpc::CallbackServerContext* ctx, MergeRelay* relay,
                   const std::shared_ptr<FanoutState>& state);
  void PartEnded(const std::shared_ptr<FanoutState>& state, const PartOutcome& part);
  void FinishFanout(const std::shared_ptr<FanoutState>& state);
  // `kdbg stop` of session `id` (or of its part "<id>-<n>") when this controller relays it: checks
  // "delete" on its pods, asks the running parts' agents to stop them and has the relay cancel the
  // parts they could not stop (those end STOP_REQUESTED, saying so). nullopt: not relayed here.
  std::optional<absl::Status> StopFanout(const kube::UserInfo& user, const std::string& id,
                                         AuditRecord* rec, v1::EndedEvent* out);
  // Asks each part's agent to stop it (in parallel, each call bounded by `timeout`); the answers'
  // EndedEvents, or the calls' errors, in the parts' order.
  std::vector<absl::StatusOr<v1::EndedEvent>> StopParts(
      const std::vector<std::pair<AgentEndpoint, std::string>>& parts, absl::Duration timeout);
  // Trace (of one pod) and Attach: an EventRelay, set up off gRPC's thread; `unparsed`, the
  // request when its bytes did not parse, fails it at once (INVALID_ARGUMENT naming its type).
  grpc::ServerWriteReactor<grpc::ByteBuffer>* StartStream(
      grpc::CallbackServerContext* ctx, const google::protobuf::Message* unparsed,
      const std::shared_ptr<StreamState>& state);
  void SetupStream(grpc::CallbackServerContext* ctx, EventRelay* relay,
                   const std::shared_ptr<StreamState>& state);
  void FinishStream(const std::shared_ptr<StreamState>& state, const RelayOutcome& outcome);
  // A session (or a part of one) whose agent died mid-stream (AgentLostMidSession, relay.h): the
  // notice that says so and what the controller does; then AskRecoveredEnd learns from the node's
  // agent how it ended (ServiceOptions::recovered_end_wait), on the work queue, and calls `done`
  // once with that end (RECOVERED) or nullopt.
  v1::Event LostAgentNotice(const grpc::Status& agent_status, const std::string& node,
                            const std::string& session_id);
  void AskRecoveredEnd(std::string session_id, std::string node, EventRelay::DoneFn done);
  struct LostSession {
    std::string session_id, node;
  };
  // One attempt; posts the next one, or calls `done`.
  void AskRecoveredEndOnce(LostSession rec, int attempt, EventRelay::DoneFn done);
  void SetupTunnel(grpc::CallbackServerContext* ctx, TunnelRelay* relay,
                   const std::string& session_id);
  void SetupUpload(grpc::CallbackServerContext* ctx, UploadRelay* relay,
                   const v1::ControllerDebugBinaryChunk& first);

  struct Target {
    kube::Pod pod;
    v1::TargetRef ref;
    AgentEndpoint agent;
  };
  // Re-reads the pod (with the controller's own credentials), picks the container and the agent;
  // fills `record` as it goes.
  absl::StatusOr<Target> Locate(const v1::PodTarget& target, AuditRecord* record);
  // Authenticates the caller's bearer token (TokenReview) and records who it is in `record`.
  absl::StatusOr<kube::UserInfo> AuthenticateInto(grpc::CallbackServerContext* ctx,
                                                  AuditRecord* record);
  // The admission of everything that starts or prepares a session on `target` (Trace, Attach,
  // UploadDebugBinary, Resolve), in this order: authenticate into `record`, validate the names,
  // authorize "create" on the pod (RBAC's refusal followed by the right to ask for), check the
  // policy's namespaces.
  absl::StatusOr<kube::UserInfo> AdmitSession(grpc::CallbackServerContext* ctx,
                                              const v1::PodTarget& target, AuditRecord* record);
  // What an attach session (its start and each tunnel) needs beyond AdmitSession: the policy's
  // `attach` rule, and for `rbac` the caller's `create` on debugsessions/attach for the pod.
  absl::Status AdmitAttach(const kube::UserInfo& user, const std::string& ns,
                           const std::string& pod);
  // A unary call about one pod answered by its agent, on the work queue: admitted as a session
  // would be (AdmitSession), the pod located, `call` made once to its agent within
  // agent_call_timeout (it fills the response and adds what it learned to the record; an agent's
  // error is annotated with the agent's name), the decision audited as `rpc`. `target` must
  // outlive the call (it is in the request).
  using AgentCallFn = std::function<grpc::Status(v1::Agent::Stub&, grpc::ClientContext*,
                                                 const Target&, AuditRecord*)>;
  grpc::ServerUnaryReactor* PodAgentCall(grpc::CallbackServerContext* ctx,
                                         const v1::PodTarget* target, std::string rpc,
                                         AgentCallFn call);
  // The agent's Version answer (3 s at most), with its pod, readiness and, when it cannot debug,
  // why (its own words, or that it does not answer; `answered` says which).
  v1::VersionInfo AgentVersion(const AgentEndpoint& agent, bool* answered = nullptr);
  void AuditDecision(AuditRecord record, const absl::Status& status);

  ServiceDeps d_;
  ServiceOptions options_;
  absl::Mutex mu_;
  std::map<std::string, ActiveSession> sessions_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::shared_ptr<FanoutState>> fanouts_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kdbg::controller
