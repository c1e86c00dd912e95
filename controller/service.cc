#include "controller/service.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <optional>
#include <set>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/grpc_status.h"
#include "common/log.h"
#include "common/session_id.h"
#include "common/status.h"
#include "controller/event_peek.h"
#include "grpcpp/client_context.h"
#include "grpcpp/generic/generic_stub.h"
#include "kube/names.h"
#include "kube/probes.h"
#include "proto/words.h"

namespace kdbg::controller {
namespace {

// "/kdbg.v1.Agent/NAME": an agent method's path, for the raw calls (GenericStub).
std::string AgentMethod(const char* name) {
  return absl::StrCat("/", v1::Agent::service_full_name(), "/", name);
}

std::string Header(grpc::CallbackServerContext* ctx, const char* key) {
  const auto& md = ctx->client_metadata();
  auto it = md.find(key);
  if (it == md.end()) return "";
  return std::string(it->second.data(), it->second.size());
}

// The target container's liveness probe and the stop limit the policy derives from it.
v1::StopBudget StopBudgetProto(const kube::Pod& pod, const std::string& container,
                               const Policy& policy) {
  kube::StopBudget b = kube::StopBudgetOf(pod, container, policy.liveness_stop_share_percent);
  v1::StopBudget out;
  out.set_has_liveness_probe(b.has_liveness_probe);
  out.set_probe(b.probe);
  out.set_budget_ms(absl::ToInt64Milliseconds(b.budget));
  out.set_max_stop_ms(absl::ToInt64Milliseconds(b.max_stop));
  out.set_share_percent(b.share_percent);
  out.set_summary(b.summary);
  return out;
}

// The fields every request to an agent carries (TraceRequest, AttachRequest; one pod or one part
// of a fan-out): the target, who asks, the lease, the session (or part) id, the stop limit, the
// uploaded debug binary ("": none; a fan-out takes none).
template <typename AgentRequest>
void SetAgentRequestCommon(const v1::TargetRef& target, const std::string& user, int64_t lease_ms,
                           const std::string& session_id, int64_t max_stop_ms,
                           const std::string& debug_binary_id, AgentRequest* r) {
  *r->mutable_target() = target;
  r->set_user(user);
  r->set_lease_ms(lease_ms);
  r->set_session_id(session_id);
  r->set_max_stop_ms(max_stop_ms);
  r->set_debug_binary_id(debug_binary_id);
}

v1::Event Progress(Clock* clock, const std::string& message) {
  v1::Event e;
  e.set_time_unix_nanos(absl::ToUnixNanos(clock->Now()));
  e.mutable_notice()->set_kind(v1::NOTICE_KIND_PROGRESS);
  e.mutable_notice()->set_message(message);
  return e;
}

std::string DecisionOf(const absl::Status& s) {
  if (s.ok()) return "allowed";
  switch (s.code()) {
    case absl::StatusCode::kUnauthenticated:
    case absl::StatusCode::kPermissionDenied:
    case absl::StatusCode::kResourceExhausted:
      return "denied";
    default:
      return "error";
  }
}

absl::Status ValidTarget(const v1::PodTarget& t) {
  if (t.namespace_().empty() || t.pod().empty()) {
    return absl::InvalidArgumentError("the request names no pod (namespace and pod are required)");
  }
  // Before any API call, authorization or audit line: a name is what the API server accepts,
  // never a path ("../secrets") or a megabyte.
  KDBG_RETURN_IF_ERROR(kube::ValidateObjectName("namespace", t.namespace_()));
  KDBG_RETURN_IF_ERROR(kube::ValidateObjectName("pod", t.pod()));
  return kube::ValidateObjectName("container", t.container());
}

// The audit's end of a session or of one part of it: the agent's EndedEvent when it sent one, else
// CLIENT_GONE when the CLI went away (the relay cancelled the agent call), else ERROR with what
// the call said.
void SetEndReason(const v1::EndedEvent* ended, bool client_gone, const std::string& error,
                  AuditRecord* rec) {
  if (ended != nullptr) {
    rec->end_reason = v1::EndReason_Name(ended->reason());
    rec->reason = ended->message();
  } else if (client_gone) {
    rec->end_reason = v1::EndReason_Name(v1::END_REASON_CLIENT_GONE);
    rec->reason = "the client went away";
  } else {
    rec->end_reason = v1::EndReason_Name(v1::END_REASON_ERROR);
    rec->reason = error;
  }
}

// A part's end as `kdbg stop` reports it.
void SetEnded(const v1::EndedEvent& ended, v1::PodOutcome* o) {
  o->set_reason(ended.reason());
  o->set_hits(ended.hits());
  o->set_message(ended.message());
  o->set_target_alive(ended.target_alive());
  o->set_target_traced(ended.target_traced());
}

// `kdbg stop`'s answer for a session over several pods: every part it stopped.
v1::EndedEvent StoppedParts(const std::vector<v1::PodOutcome>& parts) {
  v1::EndedEvent out;
  out.set_reason(v1::END_REASON_STOP_REQUESTED);
  bool alive = true, traced = false;
  for (const v1::PodOutcome& part : parts) {
    v1::PodOutcome* o = out.add_pods();
    *o = part;
    o->set_outcome("ended");
    out.set_hits(out.hits() + o->hits());
    alive = alive && o->target_alive();
    traced = traced || o->target_traced();
  }
  out.set_target_alive(alive);
  out.set_target_traced(traced);
  out.set_message(absl::StrCat(parts.size(), parts.size() == 1 ? " part stopped" : " parts stopped",
                               traced ? "; a target is still traced" : ""));
  return out;
}

// An audit record of `rpc` about `target`, the pod as the user named it (Locate adds what the
// controller found).
AuditRecord RecordFor(std::string rpc, const v1::PodTarget& target) {
  AuditRecord rec;
  rec.rpc = std::move(rpc);
  rec.ns = target.namespace_();
  rec.pod = target.pod();
  rec.container = target.container();
  return rec;
}
}  // namespace

struct ControllerService::StreamState {
  v1::SessionMode mode = v1::SESSION_MODE_UNSPECIFIED;
  v1::ControllerTraceRequest trace;
  v1::ControllerAttachRequest attach;
  AuditRecord record;
  bool acquired = false;
  // Live for the agent call's lifetime.
  std::unique_ptr<grpc::GenericStub> stub;
};

void ControllerService::AuditDecision(AuditRecord record, const absl::Status& status) {
  record.kind = "decision";
  record.decision = DecisionOf(status);
  record.reason = std::string(status.message());
  d_.auditor->Decision(record);
}

absl::StatusOr<kube::UserInfo> ControllerService::AuthenticateInto(grpc::CallbackServerContext* ctx,
                                                                   AuditRecord* record) {
  KDBG_ASSIGN_OR_RETURN(kube::UserInfo user, d_.auth->Authenticate(Header(ctx, "authorization")));
  record->user = user.username;
  record->groups = user.groups;
  return user;
}

absl::StatusOr<kube::UserInfo> ControllerService::AdmitSession(grpc::CallbackServerContext* ctx,
                                                               const v1::PodTarget& target,
                                                               AuditRecord* record) {
  KDBG_ASSIGN_OR_RETURN(kube::UserInfo user, AuthenticateInto(ctx, record));
  KDBG_RETURN_IF_ERROR(ValidTarget(target));
  // Each admission step says what to do about its own refusal (AdmitAttach likewise).
  if (absl::Status s = d_.auth->Authorize(user, "create", target.namespace_(), target.pod());
      absl::IsPermissionDenied(s)) {
    return absl::PermissionDeniedError(
        absl::StrCat(s.message(),
                     "; ask for the `create debugsessions.kdbg.io` right in that namespace "
                     "(ClusterRole kdbg-user, or kdbg-tracer to trace only)"));
  } else if (!s.ok()) {
    return s;
  }
  KDBG_RETURN_IF_ERROR(CheckNamespace(*d_.policy, target.namespace_()));
  return user;
}

absl::Status ControllerService::AdmitAttach(const kube::UserInfo& user, const std::string& ns,
                                            const std::string& pod) {
  KDBG_RETURN_IF_ERROR(CheckAttachAllowed(*d_.policy));
  if (d_.policy->attach != AttachRule::kRbac) return absl::OkStatus();
  absl::Status s = d_.auth->Authorize(user, "create", ns, pod, kAttachSubresource);
  if (!absl::IsPermissionDenied(s)) return s;
  return absl::PermissionDeniedError(absl::StrCat(
      s.message(),
      "; the kdbg policy gives `kdbg attach` (a full debugger) only to users granted that "
      "subresource (attach: rbac): ask for the kdbg-user role, or trace with `kdbg trace`"));
}

absl::StatusOr<ControllerService::Target> ControllerService::Locate(const v1::PodTarget& t,
                                                                    AuditRecord* record) {
  Target out;
  absl::StatusOr<kube::Pod> pod = d_.kube->GetPod(t.namespace_(), t.pod());
  if (absl::IsNotFound(pod.status())) {
    return absl::NotFoundError(absl::StrCat("pod ", t.namespace_(), "/", t.pod(), " not found"));
  }
  if (!pod.ok()) {
    return absl::UnavailableError(
        absl::StrCat("cannot read pod ", t.namespace_(), "/", t.pod(),
                     " from the Kubernetes API: ", pod.status().message()));
  }
  out.pod = std::move(*pod);
  record->pod_uid = out.pod.uid;
  record->node = out.pod.node_name;
  KDBG_ASSIGN_OR_RETURN(out.ref, TargetFor(out.pod, t.container()));
  record->container = out.ref.container_name();
  absl::StatusOr<AgentEndpoint> agent = d_.agents->ForNode(out.pod.node_name, &out.pod);
  if (absl::IsUnavailable(agent.status())) {
    // Say why a not-ready agent cannot debug, in its own words (Version answers while not ready).
    for (const AgentEndpoint& a : d_.agents->AllAgents()) {
      if (a.node_name != out.pod.node_name || a.ready) continue;
      bool answered = false;
      v1::VersionInfo info = AgentVersion(a, &answered);
      if (answered && !info.cannot_debug().empty()) {
        // Not Unavailable (retry later): this agent says it cannot debug until someone fixes it.
        return absl::FailedPreconditionError(absl::StrCat(agent.status().message(), ": agent ",
                                                          a.pod_name,
                                                          " cannot debug: ", info.cannot_debug()));
      }
    }
  }
  if (!agent.ok()) return agent.status();
  out.agent = std::move(*agent);
  record->agent = out.agent.pod_name;
  return out;
}

// ---------------------------------------------------------------------------------------------
// Trace / Attach

grpc::ServerWriteReactor<grpc::ByteBuffer>* ControllerService::Trace(
    grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* req) {
  auto state = std::make_shared<StreamState>();
  state->mode = v1::SESSION_MODE_TRACE;
  const bool parsed = ParseBytes(*req, &state->trace);
  if (parsed && state->trace.pods_size() > 0) return TraceMany(ctx, state->trace);
  return StartStream(ctx, parsed ? nullptr : &state->trace, state);
}

grpc::ServerWriteReactor<grpc::ByteBuffer>* ControllerService::Attach(
    grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* req) {
  auto state = std::make_shared<StreamState>();
  state->mode = v1::SESSION_MODE_ATTACH;
  return StartStream(ctx, ParseBytes(*req, &state->attach) ? nullptr : &state->attach, state);
}

grpc::ServerWriteReactor<grpc::ByteBuffer>* ControllerService::StartStream(
    grpc::CallbackServerContext* ctx, const google::protobuf::Message* unparsed,
    const std::shared_ptr<StreamState>& state) {
  auto* relay = new EventRelay(options_.max_buffered_events,
                               [this, state](const RelayOutcome& o) { FinishStream(state, o); });
  if (unparsed != nullptr) {
    relay->Fail(
        grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                     absl::StrCat("the request is not a well-formed ", unparsed->GetTypeName())));
    return relay->reactor();
  }
  d_.work->Post([this, ctx, relay, state] { SetupStream(ctx, relay, state); });
  return relay->reactor();
}

void ControllerService::SetupStream(grpc::CallbackServerContext* ctx, EventRelay* relay,
                                    const std::shared_ptr<StreamState>& state) {
  const bool trace = state->mode == v1::SESSION_MODE_TRACE;
  const v1::PodTarget& target = trace ? state->trace.target() : state->attach.target();
  AuditRecord& rec = state->record;
  rec = RecordFor(v1::Word(state->mode), target);
  rec.mode = state->mode;
  if (trace) rec.script = state->trace.options().script();
  auto fail = [&](const absl::Status& s) {
    AuditDecision(rec, s);
    relay->Fail(ToGrpcStatus(s));
  };

  absl::StatusOr<kube::UserInfo> user = AdmitSession(ctx, target, &rec);
  if (!user.ok()) return fail(user.status());
  absl::Status admitted = trace ? CheckScript(*d_.policy, state->trace.options().script(),
                                              state->trace.options().script_name())
                                : AdmitAttach(*user, target.namespace_(), target.pod());
  if (!admitted.ok()) return fail(admitted);
  absl::StatusOr<Target> located = Locate(target, &rec);
  if (!located.ok()) return fail(located.status());
  if (relay->ClientGone()) return fail(absl::CancelledError("the client went away"));
  relay->Send(Progress(d_.clock, absl::StrCat("pod ", rec.ns, "/", rec.pod, " on node ", rec.node,
                                              ", container ", rec.container)));
  const v1::StopBudget budget = StopBudgetProto(located->pod, rec.container, *d_.policy);
  if (!trace || budget.has_liveness_probe()) relay->Send(Progress(d_.clock, budget.summary()));
  if (absl::Status s = d_.limiter->Acquire(rec.user); !s.ok()) return fail(s);
  state->acquired = true;

  rec.session_id = NewSessionId();
  rec.start = d_.clock->Now();
  const int64_t requested = trace ? state->trace.lease_ms() : state->attach.lease_ms();
  const int64_t lease_ms = EffectiveLeaseMs(*d_.policy, requested);
  AuditDecision(rec, absl::OkStatus());
  d_.auditor->SessionStarted(rec);
  {
    absl::MutexLock lock(&mu_);
    sessions_[rec.session_id] =
        ActiveSession{rec.session_id, rec.mode,      rec.user, rec.ns,        rec.pod,
                      rec.pod_uid,    rec.container, rec.node, located->agent};
  }
  relay->Send(
      Progress(d_.clock, absl::StrCat("agent ", located->agent.pod_name, " at ",
                                      located->agent.address, ", session ", rec.session_id)));
  state->stub = std::make_unique<grpc::GenericStub>(d_.channels->Channel(located->agent.address));
  relay->OnAgentLost(
      [this, state, relay](const grpc::Status& agent_status, EventRelay::DoneFn done) {
        relay->Send(LostAgentNotice(agent_status, state->record.node, state->record.session_id));
        AskRecoveredEnd(state->record.session_id, state->record.node, std::move(done));
      });
  std::string label =
      absl::StrCat(located->agent.pod_name, " (", located->agent.address, ", node ", rec.node, ")");
  grpc::ByteBuffer request;
  std::string method;
  if (trace) {
    v1::TraceRequest r;
    SetAgentRequestCommon(located->ref, rec.user, lease_ms, rec.session_id, budget.max_stop_ms(),
                          state->trace.debug_binary_id(), &r);
    *r.mutable_options() = state->trace.options();
    request = SerializeMessage(r);
    method = AgentMethod("Trace");
  } else {
    v1::AttachRequest r;
    SetAgentRequestCommon(located->ref, rec.user, lease_ms, rec.session_id, budget.max_stop_ms(),
                          state->attach.debug_binary_id(), &r);
    r.set_allow_unsupported_go(state->attach.allow_unsupported_go());
    request = SerializeMessage(r);
    method = AgentMethod("Attach");
  }
  relay->StartAgent(
      label, request, [state, method](grpc::ClientContext* c, EventRelay::AgentReactor* reactor) {
        state->stub->PrepareBidiStreamingCall(c, method, grpc::StubOptions(), reactor);
      });
}

void ControllerService::FinishStream(const std::shared_ptr<StreamState>& state,
                                     const RelayOutcome& outcome) {
  if (!state->acquired) return;  // denied or failed before a session existed
  d_.limiter->Release(state->record.user);
  {
    absl::MutexLock lock(&mu_);
    sessions_.erase(state->record.session_id);
  }
  AuditRecord rec = state->record;
  rec.end = d_.clock->Now();
  rec.hits = outcome.hits;
  rec.pid = outcome.host_pid;
  SetEndReason(outcome.ended_seen ? &outcome.ended : nullptr, outcome.client_gone,
               outcome.status.error_message(), &rec);
  d_.auditor->SessionEnded(rec);
}

v1::Event ControllerService::LostAgentNotice(const grpc::Status& agent_status,
                                             const std::string& node,
                                             const std::string& session_id) {
  return Progress(
      d_.clock, absl::StrCat(agent_status.error_message(), "; asking the kdbg agent on node ", node,
                             " how session ", session_id,
                             " ended (its guardian or restarted agent ends it safely)"));
}

void ControllerService::AskRecoveredEnd(std::string session_id, std::string node,
                                        EventRelay::DoneFn done) {
  d_.work->Post([this, session_id = std::move(session_id), node = std::move(node),
                 done = std::move(done)]() mutable {
    AskRecoveredEndOnce(LostSession{std::move(session_id), std::move(node)}, 0, std::move(done));
  });
}

void ControllerService::AskRecoveredEndOnce(LostSession rec, int attempt, EventRelay::DoneFn done) {
  const int attempts = static_cast<int>(
      std::max<int64_t>(1, options_.recovered_end_wait /
                               std::max(options_.recovered_end_interval, absl::Milliseconds(1))));
  if (attempt > 0) absl::SleepFor(options_.recovered_end_interval);
  std::string why;
  absl::StatusOr<AgentEndpoint> agent = d_.agents->ForNode(rec.node, nullptr);
  if (agent.ok()) {
    auto stub = d_.channels->Stub(agent->address);
    grpc::ClientContext c;
    c.set_deadline(absl::ToChronoTime(
        absl::Now() + std::min(options_.agent_call_timeout, options_.recovered_end_interval * 4)));
    v1::StopSessionRequest req;
    req.set_session_id(rec.session_id);
    v1::StopSessionResponse resp;
    grpc::Status gs = stub->StopSession(&c, req, &resp);
    if (gs.ok() && resp.ended().reason() == v1::END_REASON_RECOVERED) {
      log::Info("a session whose agent died was ended by its guardian or restarted agent",
                {{"session", rec.session_id},
                 {"agent", agent->pod_name},
                 {"attempt", attempt},
                 {"message", resp.ended().message()}});
      v1::Event e;
      e.set_time_unix_nanos(absl::ToUnixNanos(d_.clock->Now()));
      e.set_session_id(rec.session_id);
      *e.mutable_ended() = resp.ended();
      return done(std::move(e));
    }
    if (gs.ok() || gs.error_code() == grpc::StatusCode::NOT_FOUND) {
      // An agent that answers without a recorded end: the session is not one it recovered (it
      // ended it itself, or stopped it now); the broken stream stays the audited end.
      log::Warning(
          "the node's agent has no recovered end for a session whose stream broke",
          {{"session", rec.session_id},
           {"agent", agent->pod_name},
           {"answer", gs.ok() ? v1::EndReason_Name(resp.ended().reason()) : gs.error_message()}});
      return done(std::nullopt);
    }
    why = gs.error_message();
  } else {
    why = std::string(agent.status().message());
  }
  if (attempt + 1 >= attempts) {
    log::Warning("no agent told how a session whose stream broke ended",
                 {{"session", rec.session_id}, {"node", rec.node}, {"last_error", why}});
    return done(std::nullopt);
  }
  d_.work->Post([this, rec = std::move(rec), attempt, done = std::move(done)]() mutable {
    AskRecoveredEndOnce(std::move(rec), attempt + 1, std::move(done));
  });
}

int ControllerService::ActiveSessions() {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(sessions_.size());
}

// ---------------------------------------------------------------------------------------------
// Trace over several pods

struct ControllerService::FanoutState {
  v1::ControllerTraceRequest req;
  std::string id;
  AuditRecord record;  // the session's: user, namespace, selection, script
  bool acquired = false;
  struct Part {
    std::unique_ptr<v1::Agent::Stub> stub;
    v1::TraceRequest agent_req;
    AuditRecord record;
    AgentEndpoint agent;
    bool started = false;
  };
  // Sized once (the agent calls keep pointers to agent_req); a part is written by the setup task
  // before it starts and read after it ended (MergeRelay's lock orders the two).
  std::vector<Part> parts;
  // For `kdbg stop` (StopFanout): set while the relay runs the session, cleared by its
  // on_finished, both under the service's mu_ (so StopFanout reaches only a live relay).
  MergeRelay* relay = nullptr;
};

grpc::ServerWriteReactor<grpc::ByteBuffer>* ControllerService::TraceMany(
    grpc::CallbackServerContext* ctx, const v1::ControllerTraceRequest& req) {
  auto state = std::make_shared<FanoutState>();
  state->req = req;
  state->id = NewSessionId();
  state->parts.resize(static_cast<size_t>(req.pods_size()));
  std::vector<std::string> pods(req.pods().begin(), req.pods().end());
  MergeRelay::Callbacks cb;
  // The total --max-hits reached: each running part's agent is asked to stop it; a part whose
  // agent cannot (unreachable, no answer within agent_call_timeout, no such session yet) has its
  // call cancelled by the relay, which its agent ends as a lost client's: never left tracing.
  cb.on_hit_limit = [this, state](std::vector<size_t> running, MergeRelay::StoppedFn stopped) {
    d_.work->Post([this, state, running = std::move(running), stopped = std::move(stopped)] {
      std::vector<std::pair<AgentEndpoint, std::string>> live;
      for (size_t i : running) {
        const FanoutState::Part& p = state->parts[i];  // started: written before StartPart
        live.emplace_back(p.agent, p.agent_req.session_id());
      }
      std::vector<absl::StatusOr<v1::EndedEvent>> ended =
          StopParts(live, options_.agent_call_timeout);
      MergeRelay::StopFailures failed;
      for (size_t k = 0; k < ended.size(); ++k) {
        if (!ended[k].ok())
          failed.emplace_back(running[k], std::string(ended[k].status().message()));
      }
      stopped(failed);
    });
  };
  cb.on_part_done = [this, state](const PartOutcome& p) { PartEnded(state, p); };
  cb.on_finished = [this, state](const MergeOutcome&) { FinishFanout(state); };
  // A part whose agent died mid-stream: as for one pod, its guardian or restarted agent may have
  // recorded how it ended (StartPart was called, so the part's record and request are written).
  cb.on_part_lost = [this, state](size_t i, const grpc::Status& status, EventRelay::DoneFn done) {
    const FanoutState::Part& p = state->parts[i];
    v1::Event notice = LostAgentNotice(status, p.record.node, p.agent_req.session_id());
    notice.set_pod(p.record.pod);
    MergeRelay* r = nullptr;
    {
      absl::MutexLock lock(&mu_);
      r = state->relay;  // alive: the part holds it open until `done`
    }
    if (r != nullptr) r->Send(std::move(notice));
    AskRecoveredEnd(p.agent_req.session_id(), p.record.node, std::move(done));
  };
  MergeRelay::Limits limits;
  limits.max_hits_total = req.options().max_hits();
  limits.max_hits_per_second_total = req.max_hits_per_second_total();
  auto* relay = new MergeRelay(options_.max_buffered_events, state->id, std::move(pods), limits,
                               d_.clock, std::move(cb));
  d_.work->Post([this, ctx, relay, state] { SetupFanout(ctx, relay, state); });
  return relay->reactor();
}

void ControllerService::SetupFanout(grpc::CallbackServerContext* ctx, MergeRelay* relay,
                                    const std::shared_ptr<FanoutState>& state) {
  const v1::ControllerTraceRequest& req = state->req;
  AuditRecord& rec = state->record;
  rec.rpc = "trace";
  rec.mode = v1::SESSION_MODE_TRACE;
  rec.ns = req.target().namespace_();
  rec.pod = req.selection();
  rec.container = req.target().container();
  rec.script = req.options().script();
  auto fail = [&](const absl::Status& s) {
    AuditDecision(rec, s);
    relay->Fail(ToGrpcStatus(s));
  };
  absl::StatusOr<kube::UserInfo> user = AuthenticateInto(ctx, &rec);
  if (!user.ok()) return fail(user.status());
  if (!req.target().pod().empty()) {
    return fail(absl::InvalidArgumentError("a request names either one pod or a list of pods"));
  }
  if (absl::Status s = kube::ValidateObjectName("namespace", rec.ns); !s.ok()) return fail(s);
  if (absl::Status s = kube::ValidateObjectName("container", rec.container); !s.ok()) {
    return fail(s);
  }
  std::set<std::string> seen;
  for (const std::string& pod : req.pods()) {
    if (absl::Status s = kube::ValidateObjectName("pod", pod); !s.ok()) return fail(s);
    if (!seen.insert(pod).second) {
      return fail(absl::InvalidArgumentError(absl::StrCat("pod ", pod, " is named twice")));
    }
  }
  if (req.max_hits_per_second_total() < 0) {
    return fail(absl::InvalidArgumentError("the total hit rate (--rate-limit-total) is negative"));
  }
  if (rec.pod.empty()) rec.pod = absl::StrCat(req.pods_size(), " pods");
  if (rec.pod.size() > 256) rec.pod.resize(256);
  if (absl::Status s = CheckNamespace(*d_.policy, rec.ns); !s.ok()) return fail(s);
  if (absl::Status s = CheckPodCount(*d_.policy, req.pods_size(), rec.pod); !s.ok()) {
    return fail(s);
  }
  if (absl::Status s = CheckScript(*d_.policy, req.options().script(), req.options().script_name());
      !s.ok()) {
    return fail(s);
  }
  if (relay->ClientGone()) return fail(absl::CancelledError("the client went away"));
  if (absl::Status s = d_.limiter->Acquire(rec.user); !s.ok()) return fail(s);
  state->acquired = true;
  rec.session_id = state->id;
  rec.start = d_.clock->Now();
  const int64_t lease_ms = EffectiveLeaseMs(*d_.policy, req.lease_ms());
  {
    absl::MutexLock lock(&mu_);
    sessions_[state->id] = ActiveSession{
        state->id, rec.mode, rec.user, rec.ns, rec.pod, "", rec.container, "", AgentEndpoint{}};
    fanouts_[state->id] = state;
    state->relay = relay;
  }
  relay->Send(Progress(
      d_.clock,
      absl::StrCat("session ", state->id, ": ", rec.pod, ", ", req.pods_size(),
                   req.pods_size() == 1 ? " pod" : " pods", " in namespace ", rec.ns,
                   ", one part per pod; the set is fixed now (pods created later do not join)",
                   req.max_hits_per_second_total() > 0
                       ? absl::StrCat("; at most ", req.max_hits_per_second_total(),
                                      " hits/s relayed over every pod (--rate-limit-total)")
                       : "")));
  int64_t per_pod = req.max_hits_per_pod();
  if (per_pod <= 0 || (req.options().max_hits() > 0 && req.options().max_hits() < per_pod)) {
    per_pod = req.options().max_hits();
  }
  for (size_t i = 0; i < state->parts.size(); ++i) {
    const std::string& pod = req.pods(static_cast<int>(i));
    FanoutState::Part& part = state->parts[i];
    AuditRecord prec = rec;
    prec.pod = pod;
    prec.session_id = absl::StrCat(state->id, "-", i + 1);
    if (absl::Status s = d_.auth->Authorize(*user, "create", rec.ns, pod); !s.ok()) {
      AuditDecision(prec, s);
      relay->FailPart(i, s);
      continue;
    }
    v1::PodTarget t;
    t.set_namespace_(rec.ns);
    t.set_pod(pod);
    t.set_container(rec.container);
    absl::StatusOr<Target> located = Locate(t, &prec);
    if (!located.ok()) {
      AuditDecision(prec, located.status());
      relay->FailPart(i, located.status());
      continue;
    }
    if (relay->ClientGone()) {
      relay->FailPart(i, absl::CancelledError("the client went away"), "error");
      continue;
    }
    prec.start = d_.clock->Now();
    AuditDecision(prec, absl::OkStatus());
    d_.auditor->SessionStarted(prec);
    part.record = prec;
    part.agent = located->agent;
    part.started = true;
    v1::Event progress = Progress(
        d_.clock, absl::StrCat("node ", prec.node, ", container ", prec.container, ", agent ",
                               located->agent.pod_name, ", part ", prec.session_id));
    progress.set_pod(pod);
    relay->Send(std::move(progress));
    // Each pod's own liveness probe bounds how long Delve may hold it stopped (as for one pod).
    const v1::StopBudget budget = StopBudgetProto(located->pod, prec.container, *d_.policy);
    if (budget.has_liveness_probe()) {
      v1::Event b = Progress(d_.clock, budget.summary());
      b.set_pod(pod);
      relay->Send(std::move(b));
    }
    part.stub = d_.channels->Stub(located->agent.address);
    v1::TraceRequest& r = part.agent_req;
    SetAgentRequestCommon(located->ref, rec.user, lease_ms, prec.session_id, budget.max_stop_ms(),
                          /*debug_binary_id=*/"", &r);
    *r.mutable_options() = req.options();
    r.mutable_options()->set_max_hits(per_pod);
    std::string label = absl::StrCat(located->agent.pod_name, " (", located->agent.address,
                                     ", node ", prec.node, ")");
    relay->StartPart(
        i, prec.node, prec.session_id, label,
        [state, i](grpc::ClientContext* c, grpc::ClientReadReactor<v1::Event>* reactor) {
          FanoutState::Part& p = state->parts[i];
          p.stub->async()->Trace(c, &p.agent_req, reactor);
        });
  }
  relay->SetupDone();
}

void ControllerService::PartEnded(const std::shared_ptr<FanoutState>& state,
                                  const PartOutcome& part) {
  const FanoutState::Part& p = state->parts[part.index];
  if (!p.started) return;  // refused parts were audited as decisions
  AuditRecord rec = p.record;
  rec.end = d_.clock->Now();
  rec.hits = part.hits;
  rec.pid = part.host_pid;
  SetEndReason(part.ended_seen ? &part.ended : nullptr, part.client_gone, part.message, &rec);
  d_.auditor->SessionEnded(rec);
}

void ControllerService::FinishFanout(const std::shared_ptr<FanoutState>& state) {
  {
    absl::MutexLock lock(&mu_);
    state->relay = nullptr;  // StopFanout no longer reaches it
    if (!state->acquired) return;
    fanouts_.erase(state->id);
    sessions_.erase(state->id);
  }
  d_.limiter->Release(state->record.user);
}

std::optional<absl::Status> ControllerService::StopFanout(const kube::UserInfo& user,
                                                          const std::string& id, AuditRecord* rec,
                                                          v1::EndedEvent* out) {
  std::shared_ptr<FanoutState> state;
  std::optional<size_t> only;  // "<session>-<n>": that part alone
  {
    absl::MutexLock lock(&mu_);
    auto it = fanouts_.find(id);
    const size_t dash = id.rfind('-');
    size_t n = 0;
    if (it == fanouts_.end() && dash != std::string::npos &&
        absl::SimpleAtoi(absl::string_view(id).substr(dash + 1), &n) && n >= 1) {
      it = fanouts_.find(id.substr(0, dash));
      if (it != fanouts_.end() && n <= it->second->parts.size()) only = n - 1;
    }
    if (it == fanouts_.end() || it->second->relay == nullptr) return std::nullopt;
    state = it->second;
  }
  // Written before the relay existed: read freely.
  const v1::ControllerTraceRequest& req = state->req;
  rec->ns = req.target().namespace_();
  rec->pod = only.has_value() ? req.pods(static_cast<int>(*only)) : state->record.pod;
  for (int i = 0; i < req.pods_size(); ++i) {
    if (only.has_value() && static_cast<size_t>(i) != *only) continue;
    KDBG_RETURN_IF_ERROR(d_.auth->Authorize(user, "delete", rec->ns, req.pods(i)));
  }
  MergeRelay::StoppedFn stopped;
  std::vector<size_t> running;
  {
    absl::MutexLock lock(&mu_);
    if (state->relay == nullptr) {  // ended meanwhile
      *out = StoppedParts({});
      return absl::OkStatus();
    }
    stopped = state->relay->BeginStop(only, &running);
  }
  // The running parts' agents and sessions were written before they started (the relay's lock
  // orders that write before BeginStop's answer).
  std::vector<std::pair<AgentEndpoint, std::string>> live;
  live.reserve(running.size());
  for (size_t i : running) {
    live.emplace_back(state->parts[i].agent, state->parts[i].agent_req.session_id());
  }
  std::vector<absl::StatusOr<v1::EndedEvent>> answers = StopParts(live, absl::Seconds(30));
  MergeRelay::StopFailures failed;
  std::vector<v1::PodOutcome> parts(running.size());
  for (size_t k = 0; k < running.size(); ++k) {
    const FanoutState::Part& p = state->parts[running[k]];
    parts[k].set_pod(p.record.pod);
    parts[k].set_node(p.record.node);
    parts[k].set_session_id(p.agent_req.session_id());
    if (answers[k].ok()) {
      SetEnded(*answers[k], &parts[k]);
      continue;
    }
    // Cancelled by the relay: its agent ends it as a lost client's (not confirmed by it).
    std::string why(answers[k].status().message());
    parts[k].set_reason(v1::END_REASON_STOP_REQUESTED);
    parts[k].set_message(
        StopCancelledMessage(v1::END_REASON_STOP_REQUESTED, p.agent.pod_name, why));
    failed.emplace_back(running[k], std::move(why));
  }
  stopped(failed);
  *out = StoppedParts(parts);
  return absl::OkStatus();
}

std::vector<absl::StatusOr<v1::EndedEvent>> ControllerService::StopParts(
    const std::vector<std::pair<AgentEndpoint, std::string>>& parts, absl::Duration timeout) {
  std::vector<absl::StatusOr<v1::EndedEvent>> ended(parts.size());
  std::vector<std::thread> threads;
  threads.reserve(parts.size());
  for (size_t i = 0; i < parts.size(); ++i) {
    threads.emplace_back([this, &parts, &ended, timeout, i] {
      auto stub = d_.channels->Stub(parts[i].first.address);
      grpc::ClientContext c;
      c.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
      v1::StopSessionRequest req;
      req.set_session_id(parts[i].second);
      v1::StopSessionResponse resp;
      grpc::Status gs = stub->StopSession(&c, req, &resp);
      if (gs.ok()) {
        ended[i] = resp.ended();
      } else {
        log::Warning("cannot stop a part of a session",
                     {{"session", parts[i].second}, {"error", gs.error_message()}});
        ended[i] = FromGrpcStatus(gs);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  return ended;
}

// ---------------------------------------------------------------------------------------------
// Tunnel

grpc::ServerBidiReactor<v1::TunnelFrame, v1::TunnelFrame>* ControllerService::Tunnel(
    grpc::CallbackServerContext* ctx) {
  auto* relay = new TunnelRelay(
      [this, ctx](TunnelRelay* r, const v1::TunnelFrame& first) {
        const std::string& id = first.session_id();
        d_.work->Post([this, ctx, r, id] { SetupTunnel(ctx, r, id); });
      },
      nullptr);
  return relay->reactor();
}

void ControllerService::SetupTunnel(grpc::CallbackServerContext* ctx, TunnelRelay* relay,
                                    const std::string& session_id) {
  AuditRecord rec;
  rec.rpc = "tunnel";
  rec.mode = v1::SESSION_MODE_ATTACH;
  rec.session_id = session_id;
  auto fail = [&](const absl::Status& s) {
    AuditDecision(rec, s);
    relay->Fail(ToGrpcStatus(s));
  };
  absl::StatusOr<kube::UserInfo> user = AuthenticateInto(ctx, &rec);
  if (!user.ok()) return fail(user.status());
  if (session_id.empty()) {
    return fail(absl::InvalidArgumentError("the tunnel's first frame names no session"));
  }
  ActiveSession session;
  {
    absl::MutexLock lock(&mu_);
    auto it = sessions_.find(session_id);
    if (it == sessions_.end() || it->second.mode != v1::SESSION_MODE_ATTACH) {
      return fail(absl::NotFoundError(absl::StrCat(
          "no attach session ", session_id, " on this controller; start one with `kdbg attach`")));
    }
    session = it->second;
  }
  rec.ns = session.ns;
  rec.pod = session.pod;
  rec.container = session.container;
  rec.node = session.node;
  rec.agent = session.agent.pod_name;
  if (session.user != user->username) {
    return fail(absl::PermissionDeniedError(absl::StrCat(
        "session ", session_id, " belongs to another user; only its owner may open tunnels")));
  }
  if (absl::Status s = d_.auth->Authorize(*user, "create", session.ns, session.pod); !s.ok()) {
    return fail(s);
  }
  if (absl::Status s = AdmitAttach(*user, session.ns, session.pod); !s.ok()) return fail(s);
  AuditDecision(rec, absl::OkStatus());
  auto stub = std::shared_ptr<v1::Agent::Stub>(d_.channels->Stub(session.agent.address));
  relay->StartAgent(absl::StrCat(session.agent.pod_name, " (", session.agent.address, ")"),
                    [stub](grpc::ClientContext* c,
                           grpc::ClientBidiReactor<v1::TunnelFrame, v1::TunnelFrame>* reactor) {
                      stub->async()->Tunnel(c, reactor);
                    });
  // The stub only creates the call; the channel it holds is shared and outlives the call.
}

// ---------------------------------------------------------------------------------------------
// UploadDebugBinary

grpc::ServerReadReactor<v1::ControllerDebugBinaryChunk>* ControllerService::UploadDebugBinary(
    grpc::CallbackServerContext* ctx, v1::DebugBinaryUploaded* resp) {
  auto* relay = new UploadRelay(
      resp,
      [this, ctx](UploadRelay* r, const v1::ControllerDebugBinaryChunk& first) {
        d_.work->Post([this, ctx, r, first] { SetupUpload(ctx, r, first); });
      },
      nullptr);
  return relay->reactor();
}

void ControllerService::SetupUpload(grpc::CallbackServerContext* ctx, UploadRelay* relay,
                                    const v1::ControllerDebugBinaryChunk& first) {
  AuditRecord rec = RecordFor("upload-debug-binary", first.target());
  rec.script = absl::StrCat("debug binary ", first.header().file_name(), " (",
                            first.header().size(), " bytes)");
  auto fail = [&](const absl::Status& s) {
    AuditDecision(rec, s);
    relay->Fail(ToGrpcStatus(s));
  };
  // Exactly the checks of a session (it is the first step of one), before any byte is read.
  absl::StatusOr<kube::UserInfo> user = AdmitSession(ctx, first.target(), &rec);
  if (!user.ok()) return fail(user.status());
  if (first.mode() == v1::SESSION_MODE_ATTACH) {
    if (absl::Status s = AdmitAttach(*user, first.target().namespace_(), first.target().pod());
        !s.ok()) {
      return fail(s);
    }
  }
  if (absl::Status s =
          CheckDebugBinarySize(*d_.policy, first.header().size(), first.header().file_name());
      !s.ok()) {
    return fail(s);
  }
  absl::StatusOr<Target> located = Locate(first.target(), &rec);
  if (!located.ok()) return fail(located.status());
  AuditDecision(rec, absl::OkStatus());
  v1::DebugBinaryChunk agent_first;
  *agent_first.mutable_target() = located->ref;
  agent_first.set_user(rec.user);
  *agent_first.mutable_header() = first.header();
  agent_first.set_max_size(d_.policy->max_debug_binary_size);
  auto stub = std::shared_ptr<v1::Agent::Stub>(d_.channels->Stub(located->agent.address));
  relay->StartAgent(
      absl::StrCat(located->agent.pod_name, " (", located->agent.address, ", node ", rec.node, ")"),
      std::move(agent_first),
      [stub](grpc::ClientContext* c, v1::DebugBinaryUploaded* r,
             grpc::ClientWriteReactor<v1::DebugBinaryChunk>* reactor) {
        stub->async()->UploadDebugBinary(c, r, reactor);
      });
}

// ---------------------------------------------------------------------------------------------
// Unary calls

grpc::ServerUnaryReactor* ControllerService::PodAgentCall(grpc::CallbackServerContext* ctx,
                                                          const v1::PodTarget* target,
                                                          std::string rpc, AgentCallFn call) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  d_.work->Post([this, ctx, target, rpc = std::move(rpc), call = std::move(call), reactor] {
    AuditRecord rec = RecordFor(rpc, *target);
    absl::Status s = [&]() -> absl::Status {
      KDBG_RETURN_IF_ERROR(AdmitSession(ctx, *target, &rec).status());
      KDBG_ASSIGN_OR_RETURN(Target t, Locate(*target, &rec));
      auto stub = d_.channels->Stub(t.agent.address);
      grpc::ClientContext c;
      c.set_deadline(absl::ToChronoTime(absl::Now() + options_.agent_call_timeout));
      grpc::Status gs = call(*stub, &c, t, &rec);
      if (!gs.ok()) {
        return Annotate(FromGrpcStatus(gs),
                        absl::StrCat("agent ", t.agent.pod_name, " (", t.agent.address, ")"));
      }
      return absl::OkStatus();
    }();
    AuditDecision(rec, s);
    reactor->Finish(ToGrpcStatus(s));
  });
  return reactor;
}

grpc::ServerUnaryReactor* ControllerService::Resolve(grpc::CallbackServerContext* ctx,
                                                     const v1::ControllerResolveRequest* req,
                                                     v1::ControllerResolveResponse* resp) {
  // Resolve is the dry run of a debug session: whoever may create one may ask what it would
  // attach to; kdbg-user grants create, list and delete only.
  return PodAgentCall(ctx, &req->target(), "resolve",
                      [this, resp](v1::Agent::Stub& stub, grpc::ClientContext* c, const Target& t,
                                   AuditRecord* rec) {
                        v1::ResolveRequest areq;
                        *areq.mutable_target() = t.ref;
                        grpc::Status gs = stub.Resolve(c, areq, resp->mutable_target());
                        if (!gs.ok()) return gs;
                        rec->pid = resp->target().host_pid();
                        resp->set_node_name(t.pod.node_name);
                        resp->set_container(t.ref.container_name());
                        resp->set_agent(t.agent.pod_name);
                        *resp->mutable_stop_budget() =
                            StopBudgetProto(t.pod, t.ref.container_name(), *d_.policy);
                        return gs;
                      });
}

grpc::ServerUnaryReactor* ControllerService::ListFunctions(
    grpc::CallbackServerContext* ctx, const v1::ControllerListFunctionsRequest* req,
    v1::FunctionList* resp) {
  // Like Resolve: whoever may create a session on the pod may see what it could trace.
  return PodAgentCall(ctx, &req->target(), "funcs",
                      [req, resp](v1::Agent::Stub& stub, grpc::ClientContext* c, const Target& t,
                                  AuditRecord* rec) {
                        v1::ListFunctionsRequest areq;
                        *areq.mutable_target() = t.ref;
                        *areq.mutable_query() = req->query();
                        areq.set_user(rec->user);
                        grpc::Status gs = stub.ListFunctions(c, areq, resp);
                        if (gs.ok()) rec->pid = resp->host_pid();
                        return gs;
                      });
}

grpc::ServerUnaryReactor* ControllerService::ListSessions(
    grpc::CallbackServerContext* ctx, const v1::ControllerListSessionsRequest* req,
    v1::ControllerListSessionsResponse* resp) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  d_.work->Post([this, ctx, req, resp, reactor] {
    AuditRecord rec;
    rec.rpc = "list";
    rec.ns = req->all_namespaces() ? "" : req->namespace_();
    absl::Status s = [&]() -> absl::Status {
      KDBG_ASSIGN_OR_RETURN(kube::UserInfo user, AuthenticateInto(ctx, &rec));
      if (!req->all_namespaces()) {
        if (req->namespace_().empty()) {
          return absl::InvalidArgumentError("name a namespace or ask for all namespaces");
        }
        KDBG_RETURN_IF_ERROR(d_.auth->Authorize(user, "list", req->namespace_(), ""));
      }
      std::map<std::string, bool> may_list;  // namespace -> allowed
      for (const AgentEndpoint& agent : d_.agents->ReadyAgents()) {
        auto stub = d_.channels->Stub(agent.address);
        grpc::ClientContext c;
        c.set_deadline(absl::ToChronoTime(absl::Now() + options_.agent_call_timeout));
        v1::ListSessionsResponse ar;
        grpc::Status gs = stub->ListSessions(&c, v1::ListSessionsRequest(), &ar);
        if (!gs.ok()) {
          log::Warning("cannot list the sessions of an agent",
                       {{"agent", agent.pod_name}, {"error", gs.error_message()}});
          continue;
        }
        for (const v1::SessionInfo& info : ar.sessions()) {
          const std::string& ns = info.target().pod_namespace();
          if (!req->all_namespaces() && ns != req->namespace_()) continue;
          auto it = may_list.find(ns);
          if (it == may_list.end()) {
            bool ok = req->all_namespaces() ? d_.auth->Authorize(user, "list", ns, "").ok() : true;
            it = may_list.emplace(ns, ok).first;
          }
          if (!it->second) continue;
          v1::ControllerSession* out = resp->add_sessions();
          *out->mutable_info() = info;
          out->mutable_target()->set_namespace_(ns);
          out->mutable_target()->set_pod(info.target().pod_name());
          out->mutable_target()->set_container(info.target().container_name());
          out->set_node_name(info.node_name().empty() ? agent.node_name : info.node_name());
        }
      }
      return absl::OkStatus();
    }();
    if (!s.ok()) AuditDecision(rec, s);
    reactor->Finish(ToGrpcStatus(s));
  });
  return reactor;
}

grpc::ServerUnaryReactor* ControllerService::StopSession(
    grpc::CallbackServerContext* ctx, const v1::ControllerStopSessionRequest* req,
    v1::ControllerStopSessionResponse* resp) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  d_.work->Post([this, ctx, req, resp, reactor] {
    AuditRecord rec;
    rec.rpc = "stop";
    rec.session_id = req->session_id();
    absl::Status s = [&]() -> absl::Status {
      KDBG_ASSIGN_OR_RETURN(kube::UserInfo user, AuthenticateInto(ctx, &rec));
      if (req->session_id().empty()) return absl::InvalidArgumentError("no session id given");
      // A session over several pods this controller relays: stopped through its relay, which
      // cancels a part its agent cannot stop.
      if (std::optional<absl::Status> s =
              StopFanout(user, req->session_id(), &rec, resp->mutable_ended());
          s.has_value()) {
        return *s;
      }
      // Find the agent holding the session: ask every ready agent (sessions may have been opened
      // through another controller replica). A session over several pods is held in parts,
      // "<id>-1", "<id>-2", ..., each on its pod's agent: stopping <id> stops them all.
      std::optional<AgentEndpoint> holder;
      v1::SessionInfo info;
      std::vector<std::pair<AgentEndpoint, v1::SessionInfo>> parts;
      const std::string part_prefix = absl::StrCat(req->session_id(), "-");
      for (const AgentEndpoint& agent : d_.agents->ReadyAgents()) {
        auto stub = d_.channels->Stub(agent.address);
        grpc::ClientContext c;
        c.set_deadline(absl::ToChronoTime(absl::Now() + options_.agent_call_timeout));
        v1::ListSessionsResponse ar;
        if (!stub->ListSessions(&c, v1::ListSessionsRequest(), &ar).ok()) continue;
        for (const auto& si : ar.sessions()) {
          if (si.id() == req->session_id()) {
            holder = agent;
            info = si;
          } else if (absl::StartsWith(si.id(), part_prefix)) {
            parts.emplace_back(agent, si);
          }
        }
        if (holder) break;
      }
      if (!holder && !parts.empty()) {
        rec.ns = parts[0].second.target().pod_namespace();
        rec.pod = absl::StrCat(parts.size(), " pods");
        std::vector<std::pair<AgentEndpoint, std::string>> allowed;
        std::vector<std::string> pods;
        for (const auto& [agent, si] : parts) {
          KDBG_RETURN_IF_ERROR(d_.auth->Authorize(user, "delete", si.target().pod_namespace(),
                                                  si.target().pod_name()));
          allowed.emplace_back(agent, si.id());
          pods.push_back(si.target().pod_name());
        }
        // Relayed by another controller replica: a part its agent cannot stop goes on until the
        // CLI, --duration or the lease ends it (that replica's relay holds its call).
        std::vector<absl::StatusOr<v1::EndedEvent>> answers = StopParts(allowed, absl::Seconds(30));
        std::vector<v1::PodOutcome> stopped(answers.size());
        for (size_t i = 0; i < answers.size(); ++i) {
          stopped[i].set_pod(pods[i]);
          stopped[i].set_node(allowed[i].first.node_name);
          stopped[i].set_session_id(allowed[i].second);
          if (answers[i].ok()) {
            SetEnded(*answers[i], &stopped[i]);
          } else {
            stopped[i].set_reason(v1::END_REASON_ERROR);
            stopped[i].set_message(std::string(answers[i].status().message()));
          }
        }
        *resp->mutable_ended() = StoppedParts(stopped);
        return absl::OkStatus();
      }
      if (!holder) {
        return absl::NotFoundError(absl::StrCat("no agent holds session ", req->session_id(),
                                                "; `kdbg sessions -A` lists the running ones"));
      }
      rec.ns = info.target().pod_namespace();
      rec.pod = info.target().pod_name();
      rec.container = info.target().container_name();
      rec.node = holder->node_name;
      rec.agent = holder->pod_name;
      KDBG_RETURN_IF_ERROR(d_.auth->Authorize(user, "delete", rec.ns, rec.pod));
      auto stub = d_.channels->Stub(holder->address);
      grpc::ClientContext c;
      c.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
      v1::StopSessionRequest areq;
      areq.set_session_id(req->session_id());
      v1::StopSessionResponse ar;
      grpc::Status gs = stub->StopSession(&c, areq, &ar);
      if (!gs.ok()) return Annotate(FromGrpcStatus(gs), absl::StrCat("agent ", holder->pod_name));
      *resp->mutable_ended() = ar.ended();
      return absl::OkStatus();
    }();
    AuditDecision(rec, s);
    reactor->Finish(ToGrpcStatus(s));
  });
  return reactor;
}

v1::VersionInfo ControllerService::AgentVersion(const AgentEndpoint& agent, bool* answered) {
  auto stub = d_.channels->Stub(agent.address);
  grpc::ClientContext c;
  c.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(3)));
  v1::VersionInfo info;
  grpc::Status st = stub->Version(&c, v1::VersionRequest(), &info);
  if (!st.ok()) {
    info.Clear();
    info.set_component("kdbg-agent");
    info.set_cannot_debug(
        absl::StrCat("does not answer at ", agent.address, " (", st.error_message(), ")"));
  }
  if (info.node_name().empty()) info.set_node_name(agent.node_name);
  info.set_pod_name(agent.pod_name);
  info.set_ready(agent.ready);
  if (answered != nullptr) *answered = st.ok();
  return info;
}

grpc::ServerUnaryReactor* ControllerService::Version(grpc::CallbackServerContext* ctx,
                                                     const v1::ControllerVersionRequest* req,
                                                     v1::ControllerVersionResponse* resp) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  d_.work->Post([this, ctx, resp, reactor] {
    resp->mutable_controller()->set_component("kdbg-controller");
    resp->mutable_controller()->set_version(KDBG_VERSION);
    absl::StatusOr<kube::UserInfo> user = d_.auth->Authenticate(Header(ctx, "authorization"));
    if (!user.ok()) {
      reactor->Finish(ToGrpcStatus(user.status()));
      return;
    }
    for (const AgentEndpoint& agent : d_.agents->AllAgents()) {
      *resp->add_agents() = AgentVersion(agent);
    }
    reactor->Finish(grpc::Status::OK);
  });
  return reactor;
}

}  // namespace kdbg::controller
