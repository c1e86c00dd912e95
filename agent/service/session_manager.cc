#include "agent/service/session_manager.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/session_id.h"
#include "proto/words.h"

namespace kdbg::agent {

namespace {

using kdbg::v1::Word;

std::string CodeName(absl::StatusCode code) {
  // absl::StatusCodeToString gives "NOT_FOUND" etc., the gRPC-style names ErrorEvent carries.
  return absl::StatusCodeToString(code);
}

// "namespace/name" of the target's pod, or empty for a bare pid.
std::string PodName(const kdbg::v1::TargetRef& t) {
  return t.pod_name().empty() ? "" : absl::StrCat(t.pod_namespace(), "/", t.pod_name());
}

std::string TargetName(const kdbg::v1::TargetRef& t) {
  std::string out = PodName(t);
  if (!out.empty()) out += " ";
  if (!t.container_id().empty())
    absl::StrAppend(&out, "container ", t.container_id());
  else
    absl::StrAppend(&out, "pid ", t.host_pid());
  return out;
}

}  // namespace

std::string DebugBinaryTargetKey(const kdbg::v1::TargetRef& target) {
  if (!target.container_id().empty()) return target.container_id();
  return absl::StrCat("pid ", target.host_pid());
}

Session::Session(std::string id, SessionRequest request, absl::Time start, absl::Time started,
                 absl::Duration lease, size_t queue)
    : id_(std::move(id)),
      request_(std::move(request)),
      start_(start),
      started_(started),
      lease_(lease),
      stream_(std::make_shared<EventStream>(queue)) {}

kdbg::v1::SessionInfo Session::Info() const {
  kdbg::v1::SessionInfo info;
  info.set_id(id_);
  info.set_mode(request_.mode);
  *info.mutable_target() = request_.target;
  info.set_user(request_.user);
  info.set_start_unix_nanos(absl::ToUnixNanos(start_));
  info.set_lease_expiry_unix_nanos(absl::ToUnixNanos(start_ + lease_));
  info.set_hits(hits_.load());
  absl::MutexLock lock(&mu_);
  info.set_host_pid(host_pid_);
  info.set_state(end_reason_ != kdbg::v1::END_REASON_UNSPECIFIED ? kdbg::v1::SESSION_STATE_ENDING
                                                                 : state_);
  return info;
}

void Session::RequestEnd(kdbg::v1::EndReason reason) {
  absl::MutexLock lock(&mu_);
  if (ended_) return;
  if (end_reason_ == kdbg::v1::END_REASON_UNSPECIFIED) end_reason_ = reason;
  // The engine's RequestEnd is non-blocking and idempotent; its first reason wins, as ours does.
  if (debug_ != nullptr) debug_->RequestEnd(end_reason_);
}

std::string Session::delve_address() const {
  absl::MutexLock lock(&mu_);
  return delve_address_;
}

bool Session::NoteClientActivity(std::function<void()> ready) {
  absl::MutexLock lock(&mu_);
  return debug_ == nullptr || debug_->NoteClientActivity(std::move(ready));
}

void Session::TellUser(kdbg::v1::NoticeKind kind, const std::string& message) {
  absl::MutexLock lock(&mu_);
  if (debug_ != nullptr) debug_->TellUser(kind, message);
}

bool Session::Ended() const {
  absl::MutexLock lock(&mu_);
  return ended_;
}

void Session::OnEnded(std::function<void(const kdbg::v1::EndedEvent&)> fn) {
  kdbg::v1::EndedEvent ended;
  {
    absl::MutexLock lock(&mu_);
    if (!ended_) {
      on_ended_.push_back(std::move(fn));
      return;
    }
    ended = ended_event_;
  }
  fn(ended);
}

bool Session::AddCloser(std::function<void()> closer) {
  absl::MutexLock lock(&mu_);
  if (ended_ || end_reason_ != kdbg::v1::END_REASON_UNSPECIFIED) return false;
  closers_.push_back(std::move(closer));
  return true;
}

int Session::AddStopLimitListener(std::function<void(const std::string&)> fn) {
  absl::MutexLock lock(&mu_);
  int id = ++next_listener_id_;
  stop_limit_listeners_.emplace(id, std::move(fn));
  if (debug_ != nullptr) {
    debug_->NoteClientConnections(static_cast<int>(stop_limit_listeners_.size()));
  }
  return id;
}

void Session::RemoveStopLimitListener(int id) {
  absl::MutexLock lock(&mu_);
  if (stop_limit_listeners_.erase(id) > 0 && debug_ != nullptr) {
    debug_->NoteClientConnections(static_cast<int>(stop_limit_listeners_.size()));
  }
}

SessionManager::SessionManager(Options options, Resolver* resolver, DebugSessionFactory* factory,
                               Clock* clock, AgentMetrics* metrics)
    : options_(std::move(options)),
      resolver_(resolver),
      factory_(factory),
      clock_(clock),
      metrics_(metrics) {}

SessionManager::~SessionManager() {
  Shutdown(kdbg::v1::END_REASON_AGENT_SHUTDOWN, absl::InfiniteDuration());
  absl::MutexLock lock(&mu_);
  ReapLocked();
}

absl::StatusOr<std::shared_ptr<Session>> SessionManager::Start(SessionRequest request) {
  const std::string mode = Word(request.mode);
  if (request.target.container_id().empty() && request.target.host_pid() <= 0) {
    metrics_->SessionRefused(mode);
    return absl::InvalidArgumentError(
        "the request names no target: set target.container_id (or host_pid)");
  }
  if (request.target.container_id().empty() && !options_.allow_host_pid) {
    metrics_->SessionRefused(mode);
    return absl::PermissionDeniedError(
        "this agent debugs containers only: name the target by container ID (a bare host PID needs "
        "the agent's --allow-host-pid)");
  }
  if (request.mode == kdbg::v1::SESSION_MODE_TRACE && request.options.script().empty()) {
    metrics_->SessionRefused(mode);
    return absl::InvalidArgumentError(
        "a trace session needs a trace script (options.script is empty)");
  }
  std::shared_ptr<DebugBinary> debug_binary;
  if (!request.debug_binary_id.empty()) {
    if (options_.debug_binaries == nullptr) {
      metrics_->SessionRefused(mode);
      return absl::FailedPreconditionError("this agent takes no debug binaries");
    }
    absl::StatusOr<std::shared_ptr<DebugBinary>> claimed = options_.debug_binaries->Claim(
        request.debug_binary_id, {request.user, DebugBinaryTargetKey(request.target)});
    if (!claimed.ok()) {
      metrics_->SessionRefused(mode);
      return claimed.status();
    }
    debug_binary = *std::move(claimed);  // deleted on any refusal below, or when the session ends
  }
  absl::Duration lease =
      request.lease_ms > 0 ? absl::Milliseconds(request.lease_ms) : options_.default_lease;
  if (lease > options_.max_lease) lease = options_.max_lease;
  const absl::Time now = clock_->Now();
  const absl::Time started = clock_->MonotonicNow();

  std::shared_ptr<Session> s;
  {
    absl::MutexLock lock(&mu_);
    ReapLocked();
    if (draining_) {
      metrics_->SessionRefused(mode);
      return absl::UnavailableError(
          "the agent is shutting down and takes no new sessions; retry shortly");
    }
    if (static_cast<int>(sessions_.size()) >= options_.max_sessions) {
      metrics_->SessionRefused(mode);
      return absl::ResourceExhaustedError(absl::StrCat(
          "node ", options_.node_name, " already runs its limit of ", options_.max_sessions,
          " concurrent debug sessions; end one (kdbg stop SESSION-ID) or raise the agent's "
          "--max-sessions"));
    }
    std::string id = request.session_id.empty() ? NewSessionId() : request.session_id;
    if (sessions_.count(id) > 0) {
      metrics_->SessionRefused(mode);
      return absl::AlreadyExistsError(absl::StrCat("session ", id, " already exists on this node"));
    }
    s = std::shared_ptr<Session>(
        new Session(id, std::move(request), now, started, lease, options_.event_queue_capacity));
    s->debug_binary_ = std::move(debug_binary);
    sessions_[id] = s;
    ++running_;
    threads_[id] = std::thread([this, s]() mutable {
      std::string id = s->id();
      Run(s);
      s.reset();  // the session is released before it is retired, as when Run took it
      Retire(id);
    });
  }
  log::Info("session admitted",
            {{"session", s->id()},
             {"mode", mode},
             {"caller", s->request().caller},
             {"user", s->request().user},
             {"target", TargetName(s->request().target)},
             {"lease_ms", static_cast<long long>(absl::ToInt64Milliseconds(lease))}});
  return s;
}

void SessionManager::OnEngineEvent(Session* s, kdbg::v1::Event event) {
  if (event.session_id().empty()) event.set_session_id(s->id());
  if (event.time_unix_nanos() == 0) event.set_time_unix_nanos(absl::ToUnixNanos(clock_->Now()));
  if (event.has_notice() && event.notice().kind() == kdbg::v1::NOTICE_KIND_STOP_LIMIT) {
    // The remote clients are told too, through their tunnels (debug_protocol.h).
    const kdbg::v1::TargetRef& t = s->request().target;
    std::string text = absl::StrCat(
        "kdbg: ",
        t.pod_name().empty() ? ""
                             : absl::StrCat("pod ", t.pod_namespace(), "/", t.pod_name(), ": "),
        event.notice().message());
    std::vector<std::function<void(const std::string&)>> listeners;
    {
      absl::MutexLock lock(&s->mu_);
      for (const auto& [id, fn] : s->stop_limit_listeners_) listeners.push_back(fn);
    }
    for (const auto& fn : listeners) fn(text);
  }
  absl::MutexLock deliver(&s->deliver_mu_);
  {
    absl::MutexLock lock(&s->mu_);
    bool ready = (event.has_notice() && event.notice().kind() == kdbg::v1::NOTICE_KIND_READY) ||
                 event.has_armed();
    if (!s->engine_recorded_ && (ready || !s->held_events_.empty())) {
      s->held_events_.push_back(std::move(event));
      return;
    }
  }
  Deliver(s, std::move(event));
}

void SessionManager::Deliver(Session* s, kdbg::v1::Event event) {
  if (event.has_hit() && !event.hit().returned()) {  // a return is not a hit
    ++s->hits_;
    metrics_->Hit();
  }
  int64_t before = s->stream_->dropped();
  s->stream_->Push(std::move(event));
  int64_t after = s->stream_->dropped();
  if (after > before) metrics_->EventsDropped(after - before);
}

void SessionManager::Run(const std::shared_ptr<Session>& s) {
  const SessionRequest& req = s->request();
  const bool attach = req.mode == kdbg::v1::SESSION_MODE_ATTACH;

  absl::Time t0 = clock_->MonotonicNow();
  absl::StatusOr<kdbg::v1::ResolvedTarget> target = resolver_->Resolve(req.target);
  metrics_->ObserveResolve(clock_->MonotonicNow() - t0);
  if (!target.ok()) return Fail(s, target.status(), "resolve");
  const int32_t pid = target->host_pid();
  std::string conflict;
  {
    absl::MutexLock lock(&mu_);
    auto it = pids_.find(pid);
    if (it == pids_.end()) {
      pids_[pid] = s->id();
    } else {
      const std::string& other = it->second;
      auto os = sessions_.find(other);
      std::string who = os != sessions_.end() ? os->second->request().user : "";
      conflict = absl::StrCat("process ", pid, " already has debug session ", other,
                              who.empty() ? "" : absl::StrCat(" (user ", who, ")"),
                              "; only one session per process: stop it (kdbg stop ", other,
                              ") or wait for it to end");
    }
  }
  if (!conflict.empty()) return Fail(s, absl::AlreadyExistsError(conflict), "claim");
  {
    absl::MutexLock lock(&s->mu_);
    s->host_pid_ = pid;
  }
  // Owned by the session until Fail/Finish release it (and its file): no copy is kept here.
  const DebugBinary* debug_binary;
  {
    absl::MutexLock lock(&s->mu_);
    debug_binary = s->debug_binary_.get();
  }
  if (debug_binary != nullptr && debug_binary->build_id() != target->binary().build_id()) {
    // Checked at upload too; the target may have been replaced by another build since.
    return Fail(s,
                absl::FailedPreconditionError(absl::StrCat(
                    "the debug binary has Go build ID ", debug_binary->build_id(),
                    " but the target, pid ", pid, " (", target->binary().path(), "), has build ID ",
                    target->binary().build_id().empty() ? "(none)" : target->binary().build_id(),
                    ": pass the unstripped binary of the very build the target runs")),
                "resolve");
  }
  // Checked after the claim: a process traced by our own session is "already has a session", which
  // says more than the resolver's "already traced". A stripped target is debuggable with the
  // unstripped binary of its build. A Go version outside the bundled Delve's range is the one
  // problem the user may override (--allow-unsupported-go); the session's every event is then
  // marked. That range is Delve's: a trace session that may run on the eBPF engine (--engine auto
  // or ebpf) goes on to the engines, which apply their own Go requirements (the Delve engine
  // refuses the same version with the same words; agent/ebpf/engine_choice.h).
  const bool go_problem_only =
      !target->go_supported() && target->problem() == target->go_support_problem();
  const bool may_run_ebpf = !attach && absl::AsciiStrToLower(req.options.engine()) != "delve";
  const bool go_override = go_problem_only && (req.options.allow_unsupported_go() || may_run_ebpf);
  if (!target->debuggable() && !(debug_binary != nullptr && target->needs_debug_binary()) &&
      !go_override) {
    return Fail(s,
                absl::FailedPreconditionError(absl::StrCat(
                    "pid ", target->host_pid(), " cannot be debugged: ", target->problem())),
                "resolve");
  }
  if (absl::Status v = resolver_->Verify(*target); !v.ok()) return Fail(s, v, "verify");

  // A caller that vanished (or a shutdown) before Delve attached: end without ever attaching.
  kdbg::v1::EndReason early;
  {
    absl::MutexLock lock(&s->mu_);
    early = s->end_reason_;
  }
  if (early != kdbg::v1::END_REASON_UNSPECIFIED) {
    kdbg::v1::EndedEvent ended;
    ended.set_reason(early);
    ended.set_target_alive(true);
    ended.set_message("ended before Delve attached; the target was never touched");
    kdbg::v1::Event e;
    *e.mutable_ended() = ended;
    OnEngineEvent(s.get(), e);
    return Finish(s, ended);
  }

  EventCallback cb = [this, raw = s.get()](kdbg::v1::Event e) { OnEngineEvent(raw, std::move(e)); };
  absl::Time t1 = clock_->MonotonicNow();
  absl::StatusOr<std::unique_ptr<DebugSession>> started;
  if (attach) {
    AttachSpec spec;
    spec.session_id = s->id();
    spec.pid = pid;
    spec.pod = PodName(req.target);
    spec.start_time_ticks = target->start_time_ticks();
    spec.binary = target->binary();
    if (debug_binary != nullptr) spec.executable = debug_binary->path();
    spec.allow_unsupported_go = req.options.allow_unsupported_go();
    spec.max_stop = absl::Milliseconds(req.max_stop_ms);
    started = factory_->StartAttach(spec, cb);
  } else {
    TraceSpec spec;
    spec.session_id = s->id();
    spec.pid = pid;
    spec.pod = PodName(req.target);
    spec.start_time_ticks = target->start_time_ticks();
    spec.binary = target->binary();
    spec.allow_unsupported_go = req.options.allow_unsupported_go();
    spec.max_stop = absl::Milliseconds(req.max_stop_ms);
    spec.script = req.options.script();
    spec.script_name = req.options.script_name().empty() ? "trace.dlv" : req.options.script_name();
    spec.duration = absl::Milliseconds(req.options.duration_ms());
    spec.max_hits = req.options.max_hits();
    spec.max_hits_per_second = req.options.max_hits_per_second() > 0
                                   ? req.options.max_hits_per_second()
                                   : options_.max_hits_per_second;
    if (debug_binary != nullptr) spec.executable = debug_binary->path();
    spec.requested_hits_per_second = req.options.max_hits_per_second();
    spec.engine = req.options.engine();
    spec.no_returns = req.options.no_returns();
    started = factory_->StartTrace(spec, cb);
  }
  metrics_->ObserveAttach(clock_->MonotonicNow() - t1);
  if (!started.ok()) {
    metrics_->DelveFailure();
    return Fail(s, started.status(), "start");
  }
  metrics_->SessionStarted();
  std::string address = (*started)->delve_address();
  DebugSession* debug = started->get();
  {
    absl::MutexLock deliver(&s->deliver_mu_);
    std::vector<kdbg::v1::Event> held;
    {
      absl::MutexLock lock(&s->mu_);
      s->debug_ = std::move(*started);
      s->state_ = attach ? kdbg::v1::SESSION_STATE_ATTACHED : kdbg::v1::SESSION_STATE_TRACING;
      s->delve_address_ = address;
      if (s->end_reason_ != kdbg::v1::END_REASON_UNSPECIFIED) {
        s->debug_->RequestEnd(s->end_reason_);
      }
      s->engine_recorded_ = true;
      held.swap(s->held_events_);
    }
    // Now the session is attached: what the engine said meanwhile goes out, in order.
    for (kdbg::v1::Event& e : held) Deliver(s.get(), std::move(e));
  }
  log::Info("session started",
            {{"session", s->id()},
             {"mode", Word(req.mode)},
             {"caller", req.caller},
             {"user", req.user},
             {"target", TargetName(req.target)},
             {"pid", pid},
             {"start", absl::FormatTime(absl::RFC3339_full, s->start_, absl::UTCTimeZone())},
             {"delve", address}});

  kdbg::v1::EndedEvent ended;
  for (;;) {
    absl::StatusOr<kdbg::v1::EndedEvent> r = debug->Wait(absl::Seconds(1));
    if (r.ok()) {
      ended = *r;
      break;
    }
    if (r.status().code() != absl::StatusCode::kDeadlineExceeded) {
      ended.set_reason(kdbg::v1::END_REASON_ERROR);
      ended.set_message(std::string(r.status().message()));
      break;
    }
  }
  Finish(s, ended);
}

void SessionManager::Fail(const std::shared_ptr<Session>& s, const absl::Status& status,
                          const std::string& stage) {
  const bool refused = status.code() == absl::StatusCode::kAlreadyExists;
  log::Warning("session failed", {{"session", s->id()},
                                  {"mode", Word(s->mode())},
                                  {"caller", s->request().caller},
                                  {"user", s->request().user},
                                  {"target", TargetName(s->request().target)},
                                  {"stage", stage},
                                  {"code", CodeName(status.code())},
                                  {"error", std::string(status.message())}});
  kdbg::v1::Event e;
  e.mutable_error()->set_code(CodeName(status.code()));
  e.mutable_error()->set_message(std::string(status.message()));
  OnEngineEvent(s.get(), e);
  metrics_->SessionEnded(Word(s->mode()), refused ? "refused" : "failed", false);
  kdbg::v1::EndedEvent ended;
  ended.set_reason(kdbg::v1::END_REASON_ERROR);
  ended.set_message(std::string(status.message()));
  ended.set_target_alive(true);
  std::shared_ptr<DebugBinary> debug_binary;
  {
    absl::MutexLock lock(&s->mu_);
    s->ended_ = true;
    s->ended_event_ = ended;
    debug_binary = std::move(s->debug_binary_);
  }
  debug_binary.reset();  // no Delve reads it any more: the file is deleted (if last reference)
  Remove(s);
  s->stream_->Close(ToGrpcStatus(status));
}

void SessionManager::Finish(const std::shared_ptr<Session>& s, const kdbg::v1::EndedEvent& ended) {
  std::unique_ptr<DebugSession> debug;
  std::vector<std::function<void()>> closers;
  std::vector<std::function<void(const kdbg::v1::EndedEvent&)>> on_ended;
  std::shared_ptr<DebugBinary> debug_binary;
  int32_t pid;
  {
    absl::MutexLock lock(&s->mu_);
    debug = std::move(s->debug_);
    debug_binary = std::move(s->debug_binary_);
    closers = std::move(s->closers_);
    on_ended = std::move(s->on_ended_);
    s->ended_ = true;
    s->ended_event_ = ended;
    pid = s->host_pid_;
  }
  for (auto& c : closers) c();
  const bool was_active = debug != nullptr;
  debug.reset();         // already ended (Wait returned), so this does not block for long
  debug_binary.reset();  // Delve has exited: the uploaded file is deleted
  metrics_->SessionEnded(Word(s->mode()), OutcomeName(ended.reason()), was_active);
  log::Info("session ended",
            {{"session", s->id()},
             {"mode", Word(s->mode())},
             {"caller", s->request().caller},
             {"user", s->request().user},
             {"target", TargetName(s->request().target)},
             {"pid", pid},
             {"start", absl::FormatTime(absl::RFC3339_full, s->start_, absl::UTCTimeZone())},
             {"duration_ms", static_cast<long long>(
                                 absl::ToInt64Milliseconds(clock_->MonotonicNow() - s->started_))},
             {"reason", OutcomeName(ended.reason())},
             {"hits", static_cast<long long>(ended.hits())},
             {"target_alive", ended.target_alive()},
             {"target_traced", ended.target_traced()},
             {"message", ended.message()}});
  Remove(s);
  s->stream_->Close(grpc::Status::OK);
  for (auto& fn : on_ended) fn(ended);
}

void SessionManager::Remove(const std::shared_ptr<Session>& s) {
  std::vector<std::function<void(const kdbg::v1::EndedEvent&)>> on_ended;
  kdbg::v1::EndedEvent ended;
  {
    absl::MutexLock lock(&s->mu_);
    on_ended = std::move(s->on_ended_);
    ended = s->ended_event_;
  }
  for (auto& fn : on_ended) fn(ended);
  absl::MutexLock lock(&mu_);
  sessions_.erase(s->id());
  int32_t pid = s->Info().host_pid();
  if (auto it = pids_.find(pid); it != pids_.end() && it->second == s->id()) pids_.erase(it);
}

void SessionManager::Retire(const std::string& id) {
  absl::MutexLock lock(&mu_);
  if (auto t = threads_.find(id); t != threads_.end()) {
    finished_threads_.push_back(std::move(t->second));
    threads_.erase(t);
  }
  --running_;
}

void SessionManager::ReapLocked() {
  for (auto& t : finished_threads_) {
    if (t.joinable()) t.join();
  }
  finished_threads_.clear();
}

std::shared_ptr<Session> SessionManager::Find(const std::string& id) const {
  absl::MutexLock lock(&mu_);
  auto it = sessions_.find(id);
  return it == sessions_.end() ? nullptr : it->second;
}

std::vector<kdbg::v1::SessionInfo> SessionManager::List() const {
  std::vector<std::shared_ptr<Session>> all;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [id, s] : sessions_) all.push_back(s);
  }
  std::vector<kdbg::v1::SessionInfo> out;
  for (const auto& s : all) {
    auto info = s->Info();
    info.set_node_name(options_.node_name);
    out.push_back(std::move(info));
  }
  return out;
}

int SessionManager::size() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(sessions_.size());
}

int SessionManager::CheckLeases() {
  const absl::Time now = clock_->MonotonicNow();
  std::vector<std::shared_ptr<Session>> expired;
  {
    absl::MutexLock lock(&mu_);
    ReapLocked();
    for (const auto& [id, s] : sessions_) {
      if (now - s->started_ >= s->lease_) expired.push_back(s);
    }
  }
  int n = 0;
  for (const auto& s : expired) {
    bool fresh;
    {
      absl::MutexLock lock(&s->mu_);
      fresh = !s->ended_ && s->end_reason_ == kdbg::v1::END_REASON_UNSPECIFIED;
    }
    if (!fresh) continue;
    log::Info("session lease expired", {{"session", s->id()}, {"user", s->request().user}});
    s->RequestEnd(kdbg::v1::END_REASON_LEASE_EXPIRED);
    ++n;
  }
  return n;
}

int SessionManager::Shutdown(kdbg::v1::EndReason reason, absl::Duration timeout) {
  std::vector<std::shared_ptr<Session>> all;
  {
    absl::MutexLock lock(&mu_);
    draining_ = true;
    for (const auto& [id, s] : sessions_) all.push_back(s);
  }
  for (const auto& s : all) s->RequestEnd(reason);
  all.clear();
  absl::MutexLock lock(&mu_);
  auto done = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return running_ == 0; };
  mu_.AwaitWithTimeout(absl::Condition(&done), timeout);
  ReapLocked();
  return running_;
}

}  // namespace kdbg::agent
