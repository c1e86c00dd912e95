#include "agent/delve/delve_session.h"

#include <unistd.h>

#include <deque>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "agent/delve/delve_home.h"
#include "agent/delve/hit_format.h"
#include "agent/delve/json_access.h"
#include "agent/delve/safe_end.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/status.h"
#include "common/stream_connect.h"
#include "common/thread_name.h"

namespace kdbg::delve {

using kdbg::v1::EndReason;
using nlohmann::json;

namespace {

std::string ReadFileOrEmpty(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Delve's last meaningful output line: its own error message.
std::string LastDelveMessage(const std::string& log) {
  std::string last;
  for (absl::string_view line : absl::StrSplit(log, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || absl::StartsWith(line, "API server listening at")) continue;
    if (absl::StartsWith(line, "Error: ")) line.remove_prefix(7);
    last = std::string(line);
  }
  return last;
}

}  // namespace

TargetCheck CheckTargetReleased(ProcReader& proc, pid_t pid, absl::Duration timeout) {
  absl::Time deadline = MonotonicNow() + timeout;
  TargetCheck out;
  while (true) {
    auto st = proc.Status(pid);
    out.alive = st.ok() && !st->zombie();
    out.traced = st.ok() && st->tracer_pid != 0;
    out.stopped = st.ok() && st->stopped();
    if (!out.alive || (!out.traced && !out.stopped) || MonotonicNow() >= deadline) return out;
    absl::SleepFor(absl::Milliseconds(5));  // only at the very end of a session, never in the loop
  }
}

DelveSession::DelveSession(const DelveOptions& options, SessionConfig config,
                           kdbg::agent::EventCallback cb)
    : options_(options),
      clock_(*options_.clock),
      proc_(*options_.proc),
      config_(std::move(config)),
      on_event_(std::move(cb)) {}

DelveSession::~DelveSession() {
  RequestEnd(kdbg::v1::END_REASON_AGENT_SHUTDOWN);
  if (thread_.joinable()) thread_.join();
  RemoveHome();
}

absl::Status DelveSession::Start() {
  thread_ = std::thread([this] { Run(); });
  setup_done_.WaitForNotification();
  if (!setup_status_.ok()) {
    thread_.join();
    return setup_status_;
  }
  return absl::OkStatus();
}

bool DelveSession::NoteClientActivity(std::function<void()> ready) {
  last_activity_nanos_.store(absl::ToUnixNanos(clock_.MonotonicNow()));
  client_activity_.fetch_add(1);
  absl::MutexLock lock(&mu_);
  if (!hold_requests_) return true;
  held_requests_.push_back(std::move(ready));
  return false;
}

void DelveSession::ReleaseHeldRequests() {
  std::vector<std::function<void()>> held;
  {
    absl::MutexLock lock(&mu_);
    held.swap(held_requests_);
    hold_requests_ = false;
  }
  for (auto& ready : held) {
    if (ready) ready();
  }
}

void DelveSession::ParkClientBreakpoints() {
  {
    absl::MutexLock lock(&mu_);
    hold_requests_ = true;
  }
  auto parked = DisableClientBreakpoints(*side_, options_.call_timeout);
  if (!parked.ok()) {
    log::Warning("no debugger client: could not list the breakpoints to disable",
                 {{"session", config_.id}, {"error", std::string(parked.status().message())}});
  } else {
    parked_ = std::move(parked->disabled);
    for (const std::string& kept : parked->kept) {
      log::Warning("no debugger client: a breakpoint stays enabled",
                   {{"session", config_.id}, {"breakpoint", kept}});
    }
    if (!parked_.empty() || !parked->kept.empty()) {
      const bool one = parked_.size() == 1;
      const char* const it = one ? "it" : "them";
      std::string text =
          parked_.empty()
              ? "no debugger client is connected: kdbg could disable none of the breakpoints the "
                "clients left"
              : absl::StrCat("no debugger client is connected: kdbg disabled the ",
                             one ? "breakpoint" : "breakpoints", " the clients left (",
                             DescribeBreakpoints(parked_), ") so the service does not stop at ", it,
                             " with nobody there; the next client's first request halts the "
                             "target and enables ",
                             it, " again first");
      if (!parked->kept.empty()) {
        absl::StrAppend(&text, "; left enabled (each hit stops the target for a moment): ",
                        absl::StrJoin(parked->kept, "; "));
      }
      log::Info("no debugger client: breakpoints disabled",
                {{"session", config_.id}, {"disabled", static_cast<long long>(parked_.size())}});
      Notice(kdbg::v1::NOTICE_KIND_BREAKPOINTS_DISABLED, text);
    }
  }
  if (parked_.empty()) ReleaseHeldRequests();
}

std::optional<EndReason> DelveSession::HaltRunningTarget(bool* stopped) {
  *stopped = false;
  // Delve answers a halt once the target has stopped (it then holds the target's lock). Running
  // on our continue, the stop is that continue's reply.
  auto halted =
      side_->Call("RPCServer.Command", DelveClient::CommandParams("halt"), options_.call_timeout);
  const bool ours = main_->pending();
  absl::StatusOr<json> reply = ours ? ReceivePending(*main_, options_.call_timeout) : halted;
  if (std::optional<int> status = ExitStatusOf(reply)) {
    exit_status_ = *status;
    return kdbg::v1::END_REASON_TARGET_EXITED;
  }
  if (reply.ok()) {
    *stopped = true;
    return std::nullopt;
  }
  if (ours && absl::IsUnavailable(reply.status())) {
    end_detail_ = absl::StrCat("lost Delve: ", reply.status().message());
    return kdbg::v1::END_REASON_ERROR;
  }
  log::Warning("halt: the target did not stop",
               {{"session", config_.id}, {"error", std::string(reply.status().message())}});
  return std::nullopt;
}

std::optional<EndReason> DelveSession::UnparkForReturningClient() {
  // Parked, the target runs on our continue (every stop continued at once); Delve serves
  // breakpoint calls only once it has stopped.
  std::optional<EndReason> end;
  bool stopped = !main_->pending();
  if (!stopped) end = HaltRunningTarget(&stopped);
  std::vector<std::string> problems;
  if (end) {
    // Nothing to enable: the session ends (the safe end clears every breakpoint).
  } else if (!stopped) {
    problems.push_back("the target did not stop for the client; they stay disabled");
  } else {
    problems = EnableAgain(*side_, parked_, options_.call_timeout);
  }
  if (!end) {
    const bool one = parked_.size() == 1;
    std::string text = absl::StrCat(
        "a debugger client is back: kdbg enabled again the ", one ? "breakpoint" : "breakpoints",
        " it had disabled while no client was connected (", DescribeBreakpoints(parked_),
        "); the target is halted for the client");
    if (!problems.empty()) {
      absl::StrAppend(&text, "; except, still disabled: ", absl::StrJoin(problems, "; "));
    }
    log::Info("returning client: breakpoints enabled again",
              {{"session", config_.id},
               {"enabled", static_cast<long long>(parked_.size())},
               {"problems", absl::StrJoin(problems, "; ")}});
    Notice(kdbg::v1::NOTICE_KIND_BREAKPOINTS_ENABLED, text);
  }
  parked_.clear();
  ReleaseHeldRequests();
  return end;
}

void DelveSession::TellUser(kdbg::v1::NoticeKind kind, const std::string& message) {
  absl::MutexLock lock(&mu_);
  if (!told_closed_) told_.emplace_back(kind, message);
}

void DelveSession::EmitTold(bool last) {
  std::vector<std::pair<kdbg::v1::NoticeKind, std::string>> told;
  {
    absl::MutexLock lock(&mu_);
    told.swap(told_);
    if (last) told_closed_ = true;
  }
  for (const auto& [kind, message] : told) Notice(kind, message);
}

void DelveSession::RequestEnd(EndReason reason) {
  absl::MutexLock lock(&mu_);
  if (ended_ || requested_ != kdbg::v1::END_REASON_UNSPECIFIED) return;
  requested_ =
      reason == kdbg::v1::END_REASON_UNSPECIFIED ? kdbg::v1::END_REASON_CLIENT_STOP : reason;
  if (loop_ready_) main_->Interrupt();
}

std::optional<EndReason> DelveSession::Requested() {
  absl::MutexLock lock(&mu_);
  if (requested_ == kdbg::v1::END_REASON_UNSPECIFIED) return std::nullopt;
  return requested_;
}

absl::StatusOr<kdbg::v1::EndedEvent> DelveSession::Wait(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  if (!mu_.AwaitWithTimeout(absl::Condition(&ended_), timeout)) {
    return absl::DeadlineExceededError(absl::StrCat("session ", config_.id, " still ending"));
  }
  return ended_event_;
}

bool DelveSession::Ended() const {
  absl::MutexLock lock(&mu_);
  return ended_;
}

void DelveSession::Emit(kdbg::v1::Event event) {
  event.set_session_id(config_.id);
  if (!config_.unsupported_go.empty()) event.set_unsupported_go(config_.unsupported_go);
  event.set_time_unix_nanos(absl::ToUnixNanos(clock_.Now()));
  if (on_event_) on_event_(std::move(event));
}

void DelveSession::Notice(kdbg::v1::NoticeKind kind, const std::string& message) {
  kdbg::v1::Event e;
  e.mutable_notice()->set_kind(kind);
  e.mutable_notice()->set_message(message);
  Emit(std::move(e));
}

void DelveSession::Run() {
  SetCurrentThreadName("kdbg-delve-loop");
  setup_status_ = Setup();
  if (!setup_status_.ok()) {
    CleanupAfterFailedSetup();
    {
      absl::MutexLock lock(&mu_);
      ended_ = true;
    }
    setup_done_.Notify();
    return;
  }
  {
    kdbg::v1::Event e;
    if (config_.attach_mode) {
      e.mutable_notice()->set_kind(kdbg::v1::NOTICE_KIND_READY);
      e.mutable_notice()->set_message(
          absl::StrCat("Delve attached to process ", config_.pid, " and listening at ", address_));
    } else {
      *e.mutable_armed() = armed_;
    }
    Emit(std::move(e));
  }
  {
    absl::MutexLock lock(&mu_);
    loop_ready_ = true;
  }
  setup_done_.Notify();
  EndReason reason = config_.attach_mode ? AttachLoop() : TraceLoop();
  Finish(reason);
}

absl::Status DelveSession::Setup() {
  start_ = clock_.MonotonicNow();
  KDBG_RETURN_IF_ERROR(SpawnAndConnect());
  absl::Time attached = clock_.MonotonicNow();
  armed_.set_host_pid(config_.pid);
  armed_.set_attach_ms(absl::ToInt64Milliseconds(attached - start_));
  if (!config_.attach_mode) KDBG_RETURN_IF_ERROR(Arm());
  // Let the target run: it has been stopped since the attach.
  KDBG_RETURN_IF_ERROR(main_->Send("RPCServer.Command", DelveClient::CommandParams("continue")));
  if (config_.attach_mode) KDBG_RETURN_IF_ERROR(AwaitRunning());
  armed_.set_arm_ms(absl::ToInt64Milliseconds(clock_.MonotonicNow() - attached));
  return absl::OkStatus();
}

absl::Status DelveSession::AwaitRunning() {
  // Delve's halt of a target that is not running does nothing. A remote client's first request is
  // often a halt (`dlv connect` sends one); had it reached Delve before the continue above took
  // effect, the target would run on and the client wait for a stop nobody makes. Seen once Delve
  // served on a Unix socket: a client dialing right after StartAttach returned lost its halt in
  // 1 run of 3-5 (DelveEngineTest.AttachStopLimitHaltsForARequestNotedJustBeforeTheResume). So
  // the session is ready only once the target runs again (or is gone).
  //
  // Judged from /proc, never by asking Delve: its `State` (even non-blocking) takes the lock its
  // continue holds for as long as the target runs when it comes between the two first steps of
  // that continue (Debugger.Command, service/debugger/debugger.go, Delve 1.26/1.27: lock the
  // target, then mark it running), and a target without breakpoints may never stop again. Seen
  // on the cluster (c53): "Delve did not answer RPCServer.State within 10s". The thread-group
  // leader leaves its tracing stop (state `t`) when Delve resumes the threads, which it does
  // after marking the target running; from then on a halt stops it.
  const absl::Time deadline = MonotonicNow() + options_.call_timeout;
  while (true) {
    absl::StatusOr<ProcStatus> st = proc_.Status(config_.pid);
    if (!st.ok() || !st->stopped()) return absl::OkStatus();  // running, or gone (Run sees it)
    if (MonotonicNow() >= deadline) {
      return absl::UnavailableError(absl::StrCat("Delve did not run the target within ",
                                                 absl::FormatDuration(options_.call_timeout),
                                                 " of its continue"));
    }
    absl::SleepFor(absl::Milliseconds(1));
  }
}

absl::Status DelveSession::DelveExitError(const std::string& log) {
  // Delve's own words: its last output line, how it ended, and where its whole output is.
  std::string how = "ended";
  if (absl::StatusOr<int> ws = dlv_->Wait(absl::Seconds(1)); ws.ok()) {
    how = ChildProcess::DescribeWaitStatus(*ws);
  }
  std::string msg = LastDelveMessage(log);
  if (msg.empty()) {
    return absl::UnavailableError(absl::StrCat("Delve failed to start: Delve ", how,
                                               " without any output (its log ", log_path_,
                                               " is empty)"));
  }
  if (absl::StrContains(msg, "could not attach") || absl::StrContains(msg, "debug info") ||
      absl::StrContains(msg, "not permitted") || absl::StrContains(msg, "unsupported") ||
      absl::StrContains(msg, "Go version")) {
    std::string hint;
    if (absl::StrContains(msg, "operation not permitted")) {
      auto st = proc_.Status(config_.pid);
      if (st.ok() && st->tracer_pid != 0) {
        hint = absl::StrCat(" (process ", config_.pid, " is already traced by pid ", st->tracer_pid,
                            ")");
      } else if (st.ok() && st->zombie()) {
        hint = absl::StrCat(" (process ", config_.pid, " is exiting)");
      } else {
        hint = " (the agent needs CAP_SYS_PTRACE and a ptrace_scope that allows attaching)";
      }
    }
    return absl::FailedPreconditionError(absl::StrCat("Delve: ", msg, hint));
  }
  return absl::UnavailableError(absl::StrCat("Delve failed to start: ", msg, " (Delve ", how,
                                             "; its output is in ", log_path_, ")"));
}

absl::Status DelveSession::SpawnAndConnect() {
  log_path_ = absl::StrCat(options_.work_dir, "/", config_.id, ".dlv.log");
  // Delve serves on a Unix socket in the work directory (mode 0700, the agent's own): the pod's
  // network, a `kubectl port-forward` into the agent pod (TCP ports only) and other users of the
  // node cannot reach it; only root there and the agent can. delve_engine.h, "How Delve is run".
  const std::string socket_path = DelveSocketPath(options_.work_dir, config_.id);
  if (absl::Status fits = CheckUnixSocketPath(socket_path); !fits.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot give Delve a socket: ", fits.message(),
                     "; start the agent with a shorter --state-dir"));
  }
  ::unlink(socket_path.c_str());  // a stale one would make Delve's listen fail
  address_ = absl::StrCat("unix:", socket_path);
  SpawnOptions o;
  o.argv = {
      config_.dlv_path,       "attach",          absl::StrCat(config_.pid),          "--headless",
      "--accept-multiclient", "--api-version=2", absl::StrCat("--listen=", address_)};
  o.extra_env = {absl::StrCat("KDBG_DELVE_OWNER=", options_.work_dir),
                 absl::StrCat("KDBG_SESSION_ID=", config_.id),
                 absl::StrCat("KDBG_DELVE_PARENT=", ::getpid())};
  // Delve's own config home: Go telemetry off, nothing written outside the session's files,
  // and, with a debug binary, the symbols from it (delve_home.h, separate_debug_info.h:
  // `dlv attach PID EXE` ignores EXE).
  home_dir_ = DelveHomeDir(options_.work_dir, config_.id, config_.executable);
  KDBG_RETURN_IF_ERROR(
      PrepareDelveHome(home_dir_, config_.executable,
                       config_.executable.empty() ? std::string() : proc_.ExePath(config_.pid)));
  for (std::string& e : DelveHomeEnv(home_dir_)) o.extra_env.push_back(std::move(e));
  o.stdout_path = log_path_;
  o.stderr_to_stdout = true;
  o.new_session = true;
  o.parent_death_signal = options_.parent_death_signal;
  o.join_cgroup_procs = options_.join_cgroup_procs;
  o.sigkill_on_destroy = false;  // never SIGKILL an attached Delve
  o.destroy_grace = options_.detach_timeout;
  auto child = ChildProcess::Spawn(o);
  if (!child.ok()) {
    return absl::UnavailableError(
        absl::StrCat("cannot start Delve (", config_.dlv_path, "): ", child.status().message()));
  }
  dlv_ = std::move(*child);
  ChildProcess* dlv = dlv_.get();
  auto alive = [dlv] { return dlv->Running(); };
  auto client = DialReady(*options_.dialer, address_, options_.attach_timeout, alive);
  if (!client.ok()) {
    if (!dlv_->Running()) return DelveExitError(ReadFileOrEmpty(log_path_));
    return absl::UnavailableError(absl::StrCat(client.status().message(), "; Delve's output: ",
                                               LastDelveMessage(ReadFileOrEmpty(log_path_))));
  }
  main_ = std::move(*client);
  auto side = DialReady(*options_.dialer, address_, options_.attach_timeout, alive);
  if (!side.ok()) return side.status();
  side_ = std::move(*side);
  log::Info("delve attached", {{"session", config_.id},
                               {"pid", static_cast<int>(config_.pid)},
                               {"dlv_pid", static_cast<int>(dlv_->pid())},
                               {"address", address_}});
  return absl::OkStatus();
}

absl::Status DelveSession::Arm() {
  for (const ScriptBreakpoint& bp : config_.script.breakpoints) {
    auto where = [&](absl::string_view msg) {
      return absl::StrCat(config_.script_name, ":", bp.line, ": ", msg);
    };
    auto locs = main_->FindLocation(bp.location, options_.call_timeout);
    if (!locs.ok()) {
      if (absl::IsUnavailable(locs.status()) || absl::IsDeadlineExceeded(locs.status())) {
        return locs.status();
      }
      return absl::NotFoundError(where(locs.status().message()));
    }
    BreakpointRequest req;
    req.name = bp.name;
    req.file = locs->front().file;
    req.line = locs->front().line;
    req.function = locs->front().function;
    for (const Location& l : *locs) req.addrs.insert(req.addrs.end(), l.pcs.begin(), l.pcs.end());
    req.variables = bp.prints;
    req.stacktrace = bp.stack_depth;
    req.cond = bp.cond;
    req.hit_cond = bp.hit_cond;
    names_.push_back(bp.name);
    auto created = main_->CreateBreakpoint(req, options_.call_timeout);
    if (!created.ok()) {
      if (absl::IsUnavailable(created.status())) return created.status();
      std::string msg(created.status().message());
      if (bp.cond_line != 0) absl::StrAppend(&msg, " (condition set on line ", bp.cond_line, ")");
      return absl::InvalidArgumentError(where(msg));
    }
    int id = static_cast<int>(jsonx::Int(*created, "id"));
    TracepointState& tp = tracepoints_[id];
    tp.name = bp.name;
    tp.script = &bp;
    // Delve's hit counts restart in a renewed breakpoint: only those no condition reads are
    // renewed.
    tp.renewable = options_.renew_after_goroutines > 0 && bp.hit_cond.empty() &&
                   !absl::StrContains(bp.cond, "bphitcount");
    tp.request = std::move(req);
    kdbg::v1::Tracepoint* t = armed_.add_tracepoints();
    t->set_name(bp.name);
    t->set_location(bp.location);
    t->set_function(jsonx::Str(*created, "functionName", tp.request.function));
    // The traced functions: Delve's reply says "(multiple functions)" for a closure with an
    // inlined copy; FindLocation names each location's function.
    tp.functions.insert(t->function());
    for (const Location& l : *locs) tp.functions.insert(l.function);
    // A function inlined at every call: its locations name the callers; the location names it
    // (`scale` is Delve's shorthand for main.scale).
    for (const std::string& name : gobinary::FunctionNamesFor(bp.location)) {
      tp.functions.insert(name);
    }
    t->set_file(jsonx::Str(*created, "file", tp.request.file));
    t->set_line(static_cast<int32_t>(jsonx::Int(*created, "line", tp.request.line)));
    t->set_script_line(bp.line);
    t->set_delve_id(id);
    for (const std::string& p : bp.prints) t->add_print(p);
    t->set_cond(bp.cond);
    t->set_stops(bp.stops);
  }
  return absl::OkStatus();
}

bool DelveSession::HandleStop(const json& state, std::vector<PendingHit>* hits) {
  absl::MutexLock lock(&state_mu_);
  const json& threads = jsonx::Arr(state, "Threads");
  absl::Time now = clock_.MonotonicNow();
  for (const json& th : threads) {
    if (!DelveClient::AtBreakpoint(th)) continue;
    const json& bp = jsonx::Obj(th, "breakPoint");
    int id = static_cast<int>(jsonx::Int(bp, "id"));
    if (id < 0) {
      Notice(
          kdbg::v1::NOTICE_KIND_INTERNAL_BREAKPOINT,
          absl::StrCat("the target stopped at ", jsonx::Str(bp, "name", "an internal breakpoint"),
                       " (goroutine ", jsonx::Int(th, "goroutineID"), "); continuing"));
      continue;
    }
    auto it = tracepoints_.find(id);
    if (it == tracepoints_.end()) continue;  // not ours (cannot happen in trace mode)
    TracepointState& tp = it->second;
    if (tp.cleared) continue;
    if (tp.renewable && !tp.renew) {
      const json& counts = jsonx::Obj(bp, "hitCount");
      if (counts.is_object() &&
          counts.size() > static_cast<size_t>(options_.renew_after_goroutines)) {
        tp.renew = true;
      }
    }
    if (config_.max_hits > 0 && hits_.load() >= config_.max_hits) return true;
    while (!tp.window.empty() && now - tp.window.front() >= absl::Seconds(1)) tp.window.pop_front();
    if (static_cast<int>(tp.window.size()) >= config_.hits_per_second) {
      if (ending_) continue;  // Delve is gone: nothing to clear, just drop the excess
      absl::Status s = main_->ClearBreakpoint(id, options_.call_timeout);
      tp.cleared = true;
      Notice(kdbg::v1::NOTICE_KIND_RATE_LIMITED,
             absl::StrCat("tracepoint ", tp.name, " exceeded ", config_.hits_per_second,
                          " hits per second and was cleared to protect the target",
                          s.ok() ? "" : absl::StrCat(" (clear failed: ", s.message(), ")")));
      continue;
    }
    tp.window.push_back(now);
    ++tp.hits;
    hits_.fetch_add(1);
    hits->push_back(PendingHit{&th, tp.name, tp.hits, &tp});
    if (tp.script != nullptr && tp.script->stops && !tp.noticed_stop) {
      tp.noticed_stop = true;
      Notice(kdbg::v1::NOTICE_KIND_BREAKPOINT_CONTINUED,
             absl::StrCat("breakpoint ", tp.name,
                          " does not stop the program in a trace session: reported and continued"));
    }
  }
  return config_.max_hits > 0 && hits_.load() >= config_.max_hits;
}

void DelveSession::EmitHits(std::vector<PendingHit>* hits) {
  agent::EventBunch bunch;  // one stop's hits reach the caller as one message
  for (const PendingHit& h : *hits) {
    kdbg::v1::Event e;
    *e.mutable_hit() = BuildHit(*h.thread, h.tracepoint, h.count);
    // Delve names an expression it could not evaluate after the part that failed ("r" for
    // "r.RemoteAddr"): the script's own expressions, in order, are the names users wrote.
    const ScriptBreakpoint* sb = h.state->script;
    if (sb != nullptr && static_cast<size_t>(e.hit().vars_size()) == sb->prints.size()) {
      for (size_t i = 0; i < sb->prints.size(); ++i) {
        e.mutable_hit()->mutable_vars(static_cast<int>(i))->set_name(sb->prints[i]);
      }
    }
    TracepointState* tp = h.state;
    MarkOptimizedOut(
        jsonx::Bool(jsonx::Obj(*h.thread, "function"), "optimized"), &tp->known_names,
        [this, tp](const std::string& name) { return Declares(*tp, name); }, e.mutable_hit());
    Emit(std::move(e));
  }
  hits->clear();
}

std::vector<std::string> DelveSession::LostInt3s() {
  std::vector<std::string> lost;
  // Never waits for the worker (it holds the lock while it reads a stop): the next stop will do.
  if (!state_mu_.TryLock()) return lost;
  next_int3_check_ = clock_.MonotonicNow() + options_.int3_check_interval;
  for (auto& [id, tp] : tracepoints_) {
    if (tp.cleared || tp.renew) continue;
    for (uint64_t addr : AddressesWithoutInt3(proc_, config_.pid, tp.request.addrs)) {
      if (!tp.int3_lost.insert(addr).second) continue;  // said once
      lost.push_back(absl::StrCat("tracepoint ", tp.name, ": its breakpoint at 0x", absl::Hex(addr),
                                  " is no longer in the target's code: ", kInt3RemovedWhy,
                                  "; its hits there are lost from now on"));
    }
  }
  state_mu_.Unlock();
  return lost;
}

absl::Status DelveSession::RenewGrownBreakpoints() {
  absl::MutexLock lock(&state_mu_);
  for (auto it = tracepoints_.begin(); it != tracepoints_.end();) {
    auto next = std::next(it);
    TracepointState& tp = it->second;
    if (!tp.renew || tp.cleared) {
      it = next;
      continue;
    }
    tp.renew = false;
    const int old_id = it->first;
    const absl::Time began = clock_.MonotonicNow();
    // Delve refuses a second breakpoint at an address that has one: clear, then create. A thread
    // stopped at the old one still steps over the new one at its address when continued (Delve
    // steps every thread whose CurrentBreakpoint is set, over whatever breakpoint is there now), so
    // no call is reported twice and none is missed: the target runs no code in between.
    if (absl::Status s = main_->ClearBreakpoint(old_id, options_.call_timeout); !s.ok()) {
      tp.renewable = false;  // the old breakpoint stays and keeps working, only larger stops
      log::Warning(
          "cannot renew a tracepoint's breakpoint; it stays as it is",
          {{"session", config_.id}, {"tracepoint", tp.name}, {"error", std::string(s.message())}});
      it = next;
      continue;
    }
    auto created = main_->CreateBreakpoint(tp.request, options_.call_timeout);
    if (!created.ok()) {
      tp.cleared = true;
      return absl::InternalError(absl::StrCat(
          "tracepoint ", tp.name, " could not be set again after its breakpoint was renewed (",
          created.status().message(), ")"));
    }
    const int new_id = static_cast<int>(jsonx::Int(*created, "id"));
    // Re-keyed in place: PendingHits of this stop point at the same TracepointState.
    auto node = tracepoints_.extract(it);
    node.key() = new_id;
    tracepoints_.insert(std::move(node));
    ++renewals_;
    log::Debug("renewed a tracepoint's breakpoint",
               {{"session", config_.id},
                {"tracepoint", tp.name},
                {"old_id", old_id},
                {"new_id", new_id},
                {"took_ms", absl::ToDoubleMilliseconds(clock_.MonotonicNow() - began)},
                {"renewals", static_cast<long long>(renewals_)}});
    it = next;
  }
  return absl::OkStatus();
}

bool DelveSession::Declares(TracepointState& tp, const std::string& name) {
  if (!tp.declared.has_value()) {
    tp.declared.emplace();
    if (!dwarf_tried_) {
      // Off the hot path: only once a printed name is missing at a hit, while the target runs.
      dwarf_tried_ = true;
      std::string path =
          config_.executable.empty() ? proc_.ExePath(config_.pid) : config_.executable;
      auto reader = gobinary::DwarfReader::Open(path);
      if (reader.ok()) {
        dwarf_ = std::move(*reader);
      } else {
        log::Warning("cannot read DWARF to tell optimized-out values",
                     {{"session", config_.id}, {"error", std::string(reader.status().message())}});
      }
    }
    for (const std::string& function : tp.functions) {
      if (dwarf_ == nullptr) break;
      auto fn = dwarf_->FindFunction(function);
      std::vector<gobinary::Parameter> params;
      if (fn.ok()) {
        params = fn->params;
      } else if (auto calls = dwarf_->InlinedCalls(function); !calls.empty()) {
        params = calls.front().declared;  // inlined at every call: as declared
      }  // else "(multiple functions)", a file:line, or no function
      for (const gobinary::Parameter& p : params) {
        if (!p.is_return) tp.declared->insert(p.name);
      }
    }
  }
  return tp.declared->count(name) > 0;
}

bool DelveSession::MayContinueUnparsed(absl::string_view reply, absl::Time deadline,
                                       int64_t* bound) {
  // Go's jsonrpc codec and Delve's api.State write a stop as (other layouts take the slow path)
  //   {"id":9,"result":{"State":{"Running":false,...,"Threads":[{...,"breakPoint":{"id":1,...},
  //    ...}],"NextInProgress":false,"WatchOutOfScope":null,"exited":false,"exitStatus":0,
  //    "When":""}},"error":null}
  // Inside a JSON string every '"' is escaped, so `"exited":` and `"breakPoint":{` can only be
  // keys; the last `"exited":` is the State's own (no thread or breakpoint has one).
  if (!absl::EndsWith(reply, ",\"error\":null}")) return false;
  constexpr absl::string_view kExited = "\"exited\":";
  size_t exited = reply.rfind(kExited);
  if (exited == absl::string_view::npos ||
      !absl::StartsWith(reply.substr(exited + kExited.size()), "false")) {
    return false;
  }
  // At most this many hits in the stop: every thread at a breakpoint, plus `currentThread`'s copy
  // of one of them. (memmem: string_view::find stops at every '"' of the 6-10 KB.)
  constexpr absl::string_view kAtBreakpoint = "\"breakPoint\":{";
  int64_t at_breakpoints = 0;
  for (const char* p = reply.data(); p < reply.data() + reply.size(); ++at_breakpoints) {
    const void* found = ::memmem(p, static_cast<size_t>(reply.data() + reply.size() - p),
                                 kAtBreakpoint.data(), kAtBreakpoint.size());
    if (found == nullptr) break;
    p = static_cast<const char*>(found) + kAtBreakpoint.size();
  }
  *bound = at_breakpoints;
  // Hits still queued to the worker are not counted yet (or are, twice, for a moment: an upper
  // bound either way).
  const int64_t queued = queued_bound_.load();
  // A worker this far behind (a starved CPU) is waited for: the slow path drains it while the
  // target is stopped, so the backlog, and that wait, stay a few stops long.
  constexpr int64_t kMaxQueuedHits = 16;
  if (queued >= kMaxQueuedHits) return false;
  if (config_.max_hits > 0 && hits_.load() + queued + at_breakpoints >= config_.max_hits) {
    return false;
  }
  absl::Time now = clock_.MonotonicNow();
  absl::MutexLock lock(&state_mu_);
  for (const auto& entry : tracepoints_) {
    const TracepointState& tp = entry.second;
    if (tp.cleared) continue;
    if (tp.renew) return false;  // renewed while this stop holds the target
    int64_t in_window = static_cast<int64_t>(tp.window.size());
    for (absl::Time t : tp.window) {
      if (now - t < absl::Seconds(1)) break;
      --in_window;
    }
    if (in_window + queued + at_breakpoints > config_.hits_per_second) return false;  // may clear
  }
  return !Requested().has_value() && now < deadline;
}

void DelveSession::QueueStop(absl::string_view text, int64_t bound) {
  queued_bound_.fetch_add(bound);
  absl::MutexLock lock(&work_mu_);
  queued_.push_back(QueuedStop{std::string(text), bound});
}

void DelveSession::DrainStops() {
  absl::MutexLock lock(&work_mu_);
  work_mu_.Await(absl::Condition(this, &DelveSession::WorkDoneLocked));
}

void DelveSession::StopWorker() {
  SetCurrentThreadName("kdbg-stop-work");
  std::vector<PendingHit> hits;
  while (true) {
    QueuedStop stop;
    {
      absl::MutexLock lock(&work_mu_);
      work_mu_.Await(absl::Condition(this, &DelveSession::WorkReadyLocked));
      if (queued_.empty()) return;  // asked to stop, nothing left
      stop = std::move(queued_.front());
      queued_.pop_front();
      worker_busy_ = true;
    }
    absl::StatusOr<json> reply = DelveClient::ParseStopReply(stop.text);
    if (reply.ok()) {
      const json& state = DelveClient::StopState(*reply);
      const bool max_hits = HandleStop(state, &hits);
      queued_bound_.fetch_sub(stop.bound);  // after HandleStop counted them: never undercounted
      if (max_hits) worker_max_hits_.store(true);
      EmitHits(&hits);
    } else {
      queued_bound_.fetch_sub(stop.bound);
      Notice(kdbg::v1::NOTICE_KIND_CONTINUE_ERROR,
             absl::StrCat("a hit was lost: its stop could not be read (", reply.status().message(),
                          ")"));
    }
    absl::MutexLock lock(&work_mu_);
    worker_busy_ = false;
  }
}

EndReason DelveSession::TraceLoop() {
  absl::Time deadline =
      config_.duration > absl::ZeroDuration() ? start_ + config_.duration : absl::InfiniteFuture();
  std::deque<absl::Time> error_window;  // continue errors in the last second
  std::vector<PendingHit> hits;
  // The stop limit: how long each stop was held (reply received to next continue sent) in the
  // last 2 * max_stop, and their sum.
  const bool limited = config_.max_stop > absl::ZeroDuration();
  std::deque<std::pair<absl::Time, absl::Duration>> holds;
  absl::Duration held_in_window = absl::ZeroDuration();
  absl::Time stopped_at = absl::InfinitePast();
  auto send_continue = [&]() {
    absl::Status sent = main_->Send("RPCServer.Command", DelveClient::CommandParams("continue"));
    if (limited) {
      absl::Time now = clock_.MonotonicNow();
      holds.emplace_back(now, now - stopped_at);
      held_in_window += now - stopped_at;
      while (!holds.empty() && now - holds.front().first > 2 * config_.max_stop) {
        held_in_window -= holds.front().second;
        holds.pop_front();
      }
    }
    return sent;
  };
  auto over_stop_limit = [&]() {
    if (!limited || held_in_window <= config_.max_stop) return false;
    end_detail_ =
        absl::StrCat("the target was held stopped ", absl::FormatDuration(held_in_window),
                     " within ", absl::FormatDuration(2 * config_.max_stop),
                     ", more than its liveness probe safely allows (",
                     absl::FormatDuration(config_.max_stop), "): the session ended to protect it");
    return true;
  };
  // The stop worker runs while this loop does; every return drains it first, so each queued
  // stop's hits are emitted before the session's end.
  std::thread worker([this] { StopWorker(); });
  const EndReason reason = [&]() -> EndReason {
    while (true) {
      if (auto r = Requested()) return *r;
      absl::Duration timeout =
          deadline == absl::InfiniteFuture()
              ? absl::InfiniteDuration()
              : std::max(absl::ZeroDuration(), deadline - clock_.MonotonicNow());
      absl::StatusOr<absl::string_view> text = main_->ReceiveUnparsed(timeout);
      stopped_at = clock_.MonotonicNow();
      // Continue first, then parse, when nothing in this stop can change whether to continue (not
      // exited, no error, the rate limit and max hits cannot be reached by its hits, no end asked):
      // the target then stays stopped only as long as Delve's own client would keep it. Else the
      // stop is parsed and judged first, as below.
      std::optional<absl::Status> sent;
      int64_t bound = 0;
      std::vector<std::string> lost;  // breakpoint-lost notices, sent once the target runs
      if (text.ok() && MayContinueUnparsed(*text, deadline, &bound)) {
        if (Int3CheckDue()) lost = LostInt3s();  // before the continue: the target is stopped
        sent = send_continue();
      }
      if (sent.has_value() && sent->ok()) {
        for (const std::string& m : lost) Notice(kdbg::v1::NOTICE_KIND_BREAKPOINT_LOST, m);
        // The target runs again: the worker reads this stop while this thread waits for the next.
        QueueStop(*text, bound);
        if (over_stop_limit()) return kdbg::v1::END_REASON_STOP_LIMIT;
        continue;
      }
      // Everything else is handled here, after the worker's last stop (events in order, one thread
      // at a time, and the counts it keeps up to date).
      DrainStops();
      if (worker_max_hits_.load()) return kdbg::v1::END_REASON_MAX_HITS;
      absl::StatusOr<json> reply = text.ok() ? DelveClient::ParseStopReply(*text) : text.status();
      if (!reply.ok()) {
        const absl::Status& s = reply.status();
        if (absl::IsCancelled(s)) continue;  // RequestEnd: checked at the top
        if (absl::IsDeadlineExceeded(s)) {
          if (clock_.MonotonicNow() >= deadline) return kdbg::v1::END_REASON_DURATION;
          continue;
        }
        if (auto status = ParseExitedError(std::string(s.message()))) {
          exit_status_ = *status;
          return kdbg::v1::END_REASON_TARGET_EXITED;
        }
        if (absl::IsUnavailable(s)) {
          end_detail_ = absl::StrCat("lost Delve: ", s.message());
          return kdbg::v1::END_REASON_ERROR;
        }
        // Delve stopped with an error (a Cond that cannot be evaluated, or an "Internal debugger
        // error" of a Delve reading a value it does not understand): that stop's hit is lost, the
        // session goes on. Only errors arriving faster than the hit-rate limit (a Delve failing at
        // every step, not at a hit) end it, as the limit protects the target.
        Notice(kdbg::v1::NOTICE_KIND_CONTINUE_ERROR,
               absl::StrCat("a hit was lost: Delve could not report this stop (", s.message(),
                            "); continuing"));
        absl::Time now = clock_.MonotonicNow();
        while (!error_window.empty() && now - error_window.front() >= absl::Seconds(1)) {
          error_window.pop_front();
        }
        error_window.push_back(now);
        if (static_cast<int>(error_window.size()) > std::max(4, config_.hits_per_second)) {
          end_detail_ = absl::StrCat("Delve fails to continue faster than ",
                                     config_.hits_per_second, " times per second: ", s.message());
          return kdbg::v1::END_REASON_ERROR;
        }
      } else {
        const json& state = DelveClient::StopState(*reply);
        if (jsonx::Bool(state, "exited")) {
          exit_status_ = static_cast<int>(jsonx::Int(state, "exitStatus"));
          return kdbg::v1::END_REASON_TARGET_EXITED;
        }
        if (HandleStop(state, &hits)) {
          EmitHits(&hits);
          return kdbg::v1::END_REASON_MAX_HITS;
        }
        if (Int3CheckDue()) lost = LostInt3s();  // still stopped at a reported stop
      }
      if (!sent.has_value()) {
        if (auto r = Requested()) {
          EmitHits(&hits);
          return *r;
        }
        if (clock_.MonotonicNow() >= deadline) {
          EmitHits(&hits);
          return kdbg::v1::END_REASON_DURATION;
        }
        if (absl::Status renewed = RenewGrownBreakpoints(); !renewed.ok()) {
          EmitHits(&hits);
          end_detail_ = std::string(renewed.message());
          return kdbg::v1::END_REASON_ERROR;
        }
        // Continue first, report second: building and queueing events happens while the target
        // runs.
        sent = send_continue();
      }
      EmitHits(&hits);
      if (!sent->ok()) {
        end_detail_ = absl::StrCat("lost Delve: ", sent->message());
        return kdbg::v1::END_REASON_ERROR;
      }
      for (const std::string& m : lost) Notice(kdbg::v1::NOTICE_KIND_BREAKPOINT_LOST, m);
      if (over_stop_limit()) return kdbg::v1::END_REASON_STOP_LIMIT;
    }
  }();
  DrainStops();
  {
    absl::MutexLock lock(&work_mu_);
    worker_stop_ = true;
  }
  worker.join();
  return reason;
}

EndReason DelveSession::AttachLoop() {
  // The remote client drives Delve; we watch for the end, for the target's exit, for a stop nobody
  // can end (every client that connected has gone and left the target stopped:
  // DelveOptions::no_client_grace) and, with a stop limit, for a stop held longer than the
  // target's liveness probe safely allows. Both are resumed the same way.
  // The longest stop left alone: while a client is connected, the stop limit (none without a
  // liveness probe); with none connected, at most the grace.
  const absl::Duration limit =
      config_.max_stop > absl::ZeroDuration() ? config_.max_stop : absl::InfiniteDuration();
  const absl::Duration no_client_limit = std::min(limit, options_.no_client_grace);
  const absl::Duration tick =
      std::clamp(no_client_limit / 10, absl::Milliseconds(20), absl::Seconds(1));
  // A request noted this shortly before our resume may still be on its way to Delve (the tunnel
  // notes a frame before its pump writes it; Delve serves it once it holds the target): after the
  // resume it would wait for a stop nobody makes, so the target is halted for it as for a
  // returning client. A request that was in fact served costs one more held stop.
  const absl::Duration in_flight = std::min(config_.max_stop / 2, absl::Seconds(1));
  std::optional<absl::Time> stopped_since;  // first tick the target was seen stopped
  bool resumed = false;                     // our continue runs the target while the client is away
  bool halted_for = false;                  // the client came back and we halted the target for it
  bool client_may_wait = false;             // a request noted within `in_flight` of our resume
  int64_t activity_at_resume = 0;
  int64_t passed = 0;  // stops continued at once while the client was away
  // The client activity when the breakpoints were last parked (or looked at): a client that has
  // spoken since may have left breakpoints behind. Zero, not a reading taken here: a client may
  // speak before this thread gets here (the session is ready, and tunnels open, before the loop
  // runs), and its breakpoints would never be parked.
  int64_t activity_parked = 0;
  // Parked, a returning client's request waits (held by its tunnel) for this tick at most.
  constexpr absl::Duration kParkedTick = absl::Milliseconds(50);
  // Continues the target on our connection, for a client not holding it; `activity`: the client
  // activity the resume counts from. False (end_detail_ says why) when Delve is lost.
  auto resume = [&](int64_t activity) {
    if (absl::Status sent =
            main_->Send("RPCServer.Command", DelveClient::CommandParams("continue"));
        !sent.ok()) {
      end_detail_ = absl::StrCat("lost Delve: ", sent.message());
      return false;
    }
    resumed = true;
    halted_for = false;
    activity_at_resume = activity;
    stopped_since.reset();
    return true;
  };
  while (true) {
    if (auto r = Requested()) return *r;
    EmitTold(/*last=*/false);
    if (!parked_.empty() && RequestHeld()) {
      // A client is back while the breakpoints are disabled: Delve is made ready for it first.
      if (auto end = UnparkForReturningClient()) return *end;
      resumed = false;  // the target is halted for the client
      halted_for = false;
      client_may_wait = false;
      stopped_since.reset();
      continue;
    }
    // The client's activity before this tick's wait. A resume below counts from this value, not
    // from the moment it is sent: a request the tunnel noted just before our continue may reach
    // Delve after it, and would wait for a stop nobody makes unless we halt for it.
    const int64_t activity_at_top = client_activity_.load();
    if (main_->pending()) {
      auto reply = main_->Receive(parked_.empty() ? tick : std::min(tick, kParkedTick));
      if (std::optional<int> status = ExitStatusOf(reply)) {
        exit_status_ = *status;
        return kdbg::v1::END_REASON_TARGET_EXITED;
      }
      if (reply.ok()) {
        if (resumed && !halted_for && !client_may_wait &&
            client_activity_.load() == activity_at_resume) {
          // A stop nobody is at (a breakpoint hit while the client is away): continue at once,
          // so the target keeps answering its probes. The breakpoints stay.
          ++passed;
          if (absl::Status sent =
                  main_->Send("RPCServer.Command", DelveClient::CommandParams("continue"));
              !sent.ok()) {
            end_detail_ = absl::StrCat("lost Delve: ", sent.message());
            return kdbg::v1::END_REASON_ERROR;
          }
          continue;
        }
        if (resumed) {
          log::Info("stop limit: the remote client is back",
                    {{"session", config_.id}, {"stops_continued", static_cast<long long>(passed)}});
        }
        resumed = false;  // this stop is the client's (its halt, or its request waited for it)
        halted_for = false;
        client_may_wait = false;
      } else if (absl::IsUnavailable(reply.status())) {
        end_detail_ = absl::StrCat("lost Delve: ", reply.status().message());
        return kdbg::v1::END_REASON_ERROR;
      }
    } else {
      absl::MutexLock lock(&mu_);
      mu_.AwaitWithTimeout(absl::Condition(this, &DelveSession::RequestedOrToldLocked), tick);
    }
    auto st = proc_.Status(config_.pid);
    if (!st.ok() || st->zombie()) return kdbg::v1::END_REASON_TARGET_EXITED;
    if (resumed && !halted_for && main_->pending() &&
        (client_may_wait || client_activity_.load() != activity_at_resume)) {
      // The client is back while we run the target for it (or its last request may still be
      // waiting): its request may need the target stopped (Delve serves it only then), so halt
      // it, as `dlv connect` does on connecting.
      halted_for = true;
      auto halted = side_->Call("RPCServer.Command", DelveClient::CommandParams("halt"),
                                options_.call_timeout);
      if (!halted.ok()) {
        log::Warning("stop limit: halt for the returning client failed",
                     {{"session", config_.id}, {"error", std::string(halted.status().message())}});
      }
      continue;
    }
    // Every client that connected has gone (none yet: the target runs, nobody has stopped it).
    const bool no_client = clients_open_.load() == 0;
    const bool park_due =
        no_client && parked_.empty() && client_activity_.load() != activity_parked;
    if (park_due) {
      // The breakpoints the clients left would stop the target at every hit with nobody there. A
      // target that runs (on a departed client's continue, `quit -c`, or on ours) is halted once
      // to disable them; one left stopped keeps its stop for the grace below (a client may be
      // coming back for it), and they are disabled when it is resumed.
      bool running = main_->pending();
      if (!running) {
        auto state = side_->State(/*non_blocking=*/true, options_.call_timeout);
        running = state.ok() && jsonx::Bool(*state, "Running");
      }
      if (running) {
        activity_parked = client_activity_.load();
        bool stopped = false;
        if (auto end = HaltRunningTarget(&stopped)) return *end;
        if (!stopped) continue;  // said in the log; tried again when a client has spoken
        ParkClientBreakpoints();
        if (!resume(activity_parked)) return kdbg::v1::END_REASON_ERROR;
        client_may_wait = false;
        continue;
      }
    }
    const absl::Duration allowed = no_client ? no_client_limit : limit;
    if (allowed == absl::InfiniteDuration() || !st->stopped() || main_->pending()) {
      stopped_since.reset();
      continue;
    }
    absl::Time now = clock_.MonotonicNow();
    if (!stopped_since) stopped_since = now;
    if (now - *stopped_since < allowed) continue;
    // Delve's own view: a target it is running for the client (a step) is left alone.
    auto state = side_->State(/*non_blocking=*/true, options_.call_timeout);
    if (!state.ok()) {
      stopped_since.reset();
      continue;
    }
    if (jsonx::Bool(*state, "Running") || jsonx::Bool(*state, "exited")) {
      stopped_since.reset();
      continue;
    }
    absl::Duration held = now - *stopped_since;
    if (park_due) {
      activity_parked = client_activity_.load();
      ParkClientBreakpoints();
    }
    if (!resume(activity_at_top)) return kdbg::v1::END_REASON_ERROR;
    // With no client connected no request of one can be on its way.
    client_may_wait =
        !no_client && now - absl::FromUnixNanos(last_activity_nanos_.load()) < in_flight;
    if (client_may_wait) {
      log::Info(
          "stop limit: a request of the remote client may still be on its way; halting for it",
          {{"session", config_.id}});
    }
    const std::string held_for = absl::FormatDuration(absl::Trunc(held, absl::Milliseconds(100)));
    if (no_client) {
      log::Info("no debugger client: resumed a stopped target", {{"session", config_.id}});
      Notice(
          kdbg::v1::NOTICE_KIND_STOP_LIMIT,
          absl::StrCat("no debugger client is connected and the target was stopped for ", held_for,
                       " (a client left it halted, e.g. dlv's `quit` without -c, or a "
                       "breakpoint was hit after the last client disconnected): kdbg resumed "
                       "it so the service does not wait for a debugger that is not there; "
                       "every breakpoint is kept, disabled while no client is connected. Other "
                       "stops are continued at once until a debugger client connects and sends "
                       "a request, which halts the target first; Ctrl-C on kdbg attach ends the "
                       "session"));
      continue;
    }
    Notice(kdbg::v1::NOTICE_KIND_STOP_LIMIT,
           absl::StrCat("the target was stopped for ", held_for,
                        ", the longest stop the pod's liveness probe safely allows (",
                        absl::FormatDuration(config_.max_stop),
                        "): kdbg resumed it so the kubelet does not restart the pod; every "
                        "breakpoint is kept. Breakpoint stops are continued at once until the "
                        "debugger client sends its next command, which halts the target first"));
  }
}

void DelveSession::CleanupAfterFailedSetup() {
  if (main_ != nullptr && side_ != nullptr) {
    SafeEndTimeouts t{options_.halt_timeout, options_.call_timeout};
    SafeEndResult r = RunSafeEnd(*main_, *side_, config_.pid, proc_, clock_, t, names_);
    for (const std::string& p : r.problems) {
      log::Warning("safe end after failed setup", {{"session", config_.id}, {"problem", p}});
    }
  } else if (main_ != nullptr) {
    (void)main_->Detach(options_.call_timeout);
  }
  if (dlv_ != nullptr && !dlv_->Wait(options_.detach_timeout).ok()) {
    // Attached without an answering RPC server (should not happen): SIGTERM, never SIGKILL.
    (void)dlv_->Terminate(options_.detach_timeout, /*kill_after_grace=*/false);
  }
  // Keep Delve's output when Delve itself failed; a refused script or location needs no log.
  if (dlv_ != nullptr && !dlv_->Running() && !absl::IsUnavailable(setup_status_)) {
    ::unlink(log_path_.c_str());
  }
  if (dlv_ != nullptr && dlv_->Running()) dlv_->Release();
  RemoveHome();
  RemoveSocket();
  (void)CheckTargetReleased(proc_, config_.pid, absl::Seconds(2));
}

void DelveSession::RemoveHome() {
  // Delve read its config and telemetry mode at start-up; a Delve left for recovery needs neither.
  if (home_dir_.empty()) return;
  RemoveDelveHome(home_dir_);
  home_dir_.clear();
}

void DelveSession::RemoveSocket() {
  // Delve unlinks its socket when it stops serving; one it could not (it was killed) is removed
  // here. A Delve still running (left for recovery, which dials this socket) keeps it.
  if (dlv_ != nullptr && dlv_->Running()) return;
  ::unlink(DelveSocketPath(options_.work_dir, config_.id).c_str());
}

void DelveSession::Finish(EndReason reason) {
  if (config_.attach_mode) {
    // No client request reaches Delve during the safe end (one may be held already: parked).
    absl::MutexLock lock(&mu_);
    hold_requests_ = true;
  }
  SafeEndTimeouts t{options_.halt_timeout, options_.call_timeout};
  SafeEndResult r = RunSafeEnd(*main_, *side_, config_.pid, proc_, clock_, t, names_);
  if (config_.attach_mode) ReleaseHeldRequests();  // into a Delve that no longer serves
  if (r.last_stop && !config_.attach_mode && reason != kdbg::v1::END_REASON_MAX_HITS) {
    // The stop that arrived while ending: its hits happened, report them.
    ending_ = true;
    const json& state = DelveClient::StopState(*r.last_stop);
    std::vector<PendingHit> hits;
    (void)HandleStop(state, &hits);
    EmitHits(&hits);
  }
  if (r.target_exited) exit_status_ = r.exit_status;
  std::vector<std::string> problems = r.problems;
  if (!end_detail_.empty()) problems.insert(problems.begin(), end_detail_);

  bool dlv_exited = dlv_->Wait(options_.detach_timeout).ok();
  if (!dlv_exited) {
    auto st = proc_.Status(config_.pid);
    bool still_traced = st.ok() && st->tracer_pid == dlv_->pid();
    // Breakpoints are cleared by now; SIGTERM makes Delve detach. Never SIGKILL an attached Delve.
    auto t2 = dlv_->Terminate(options_.detach_timeout, /*kill_after_grace=*/!still_traced);
    if (!t2.ok()) {
      problems.push_back(
          absl::StrCat("Delve (pid ", dlv_->pid(), ") did not exit; left for recovery"));
      dlv_->Release();
    }
  }
  RemoveHome();
  RemoveSocket();
  TargetCheck check = CheckTargetReleased(proc_, config_.pid, absl::Seconds(3));
  if (reason == kdbg::v1::END_REASON_TARGET_EXITED || (!check.alive && r.target_exited)) {
    reason = kdbg::v1::END_REASON_TARGET_EXITED;
  }
  if (check.alive && check.traced) problems.push_back("target still traced after detach");
  if (check.alive && check.stopped) problems.push_back("target still stopped after detach");

  kdbg::v1::EndedEvent ended;
  ended.set_reason(reason);
  ended.set_hits(hits_.load());
  ended.set_target_alive(check.alive);
  ended.set_target_traced(check.traced);
  if (exit_status_) ended.set_target_exit_status(*exit_status_);
  std::string summary;
  if (reason == kdbg::v1::END_REASON_TARGET_EXITED) {
    summary = absl::StrCat("target exited",
                           exit_status_ ? absl::StrCat(" with status ", *exit_status_) : "");
  } else if (check.alive && !check.traced && !check.stopped) {
    summary =
        absl::StrCat("target running, detached cleanly (", r.cleared, " breakpoints cleared)");
  } else if (!check.alive) {
    summary = "target is gone";
  } else {
    summary = "target not released";
  }
  if (!problems.empty()) absl::StrAppend(&summary, "; ", absl::StrJoin(problems, "; "));
  ended.set_message(summary);
  if (problems.empty()) ::unlink(log_path_.c_str());  // keep Delve's output for post-mortems
  log::Info("delve session ended", {{"session", config_.id},
                                    {"reason", kdbg::v1::EndReason_Name(reason)},
                                    {"hits", static_cast<long long>(hits_.load())},
                                    {"breakpoints_renewed", static_cast<long long>(renewals_)},
                                    {"message", summary}});
  EmitTold(/*last=*/true);
  kdbg::v1::Event e;
  *e.mutable_ended() = ended;
  Emit(std::move(e));
  absl::MutexLock lock(&mu_);
  ended_event_ = ended;
  ended_ = true;
  loop_ready_ = false;
}

}  // namespace kdbg::delve
