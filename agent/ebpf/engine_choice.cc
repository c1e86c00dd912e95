#include "agent/ebpf/engine_choice.h"

#include <atomic>
#include <functional>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "agent/delve/trace_script.h"
#include "agent/ebpf/build_claims.h"
#include "agent/ebpf/plan.h"
#include "common/log.h"

namespace kdbg::ebpf {
namespace {

using agent::DebugSession;
using agent::EventCallback;

// Stamps the ArmedEvent with the engine and the reason it was chosen.
EventCallback Stamp(EventCallback cb, std::string engine, std::string note) {
  return
      [cb = std::move(cb), engine = std::move(engine), note = std::move(note)](kdbg::v1::Event e) {
        if (!cb) return;
        if (e.has_armed()) {
          e.mutable_armed()->set_engine(engine);
          if (!note.empty()) e.mutable_armed()->set_engine_note(note);
        }
        cb(std::move(e));  // every event is moved on, none copied
      };
}

// A session's claim on its build (build_claims.h): 0 until acquired, and again once released.
using Token = std::shared_ptr<std::atomic<int64_t>>;

// Passes every event to `cb`. As the session's EndedEvent passes (its safe end done: no
// breakpoint or probe left), releases its claim first, so that the caller's next session of the
// build, on either engine, is not refused by one that has ended (a CLI exits on that event). A
// session that left the target traced keeps its claim until it is destroyed.
EventCallback ReleasedAtEnd(EventCallback cb, std::shared_ptr<BuildClaims> claims, Token token) {
  return [cb = std::move(cb), claims = std::move(claims),
          token = std::move(token)](kdbg::v1::Event e) {
    if (e.has_ended() && !e.ended().target_traced()) claims->Release(token->exchange(0));
    if (cb) cb(std::move(e));  // moved on: a hit's values are not copied
  };
}

// A session holding a claim on its build, released at its end (ReleasedAtEnd) or once the session
// is gone.
class Claimed final : public DebugSession {
 public:
  Claimed(std::unique_ptr<DebugSession> inner, std::shared_ptr<BuildClaims> claims, Token token)
      : inner_(std::move(inner)), claims_(std::move(claims)), token_(std::move(token)) {}
  ~Claimed() override {
    inner_.reset();  // ends the session safely first: its breakpoints or probes are gone
    claims_->Release(token_->exchange(0));
  }
  const std::string& id() const override { return inner_->id(); }
  pid_t target_pid() const override { return inner_->target_pid(); }
  std::string delve_address() const override { return inner_->delve_address(); }
  int64_t hits() const override { return inner_->hits(); }
  void RequestEnd(kdbg::v1::EndReason reason) override { inner_->RequestEnd(reason); }
  absl::StatusOr<kdbg::v1::EndedEvent> Wait(absl::Duration timeout) override {
    return inner_->Wait(timeout);
  }
  bool Ended() const override { return inner_->Ended(); }
  bool NoteClientActivity(std::function<void()> ready) override {
    return inner_->NoteClientActivity(std::move(ready));
  }
  void NoteClientConnections(int open) override { inner_->NoteClientConnections(open); }
  void TellUser(kdbg::v1::NoticeKind kind, const std::string& message) override {
    inner_->TellUser(kind, message);
  }

 private:
  std::unique_ptr<DebugSession> inner_;
  std::shared_ptr<BuildClaims> claims_;
  Token token_;
};

class Choosing final : public agent::DebugSessionFactory {
 public:
  Choosing(std::shared_ptr<agent::DebugSessionFactory> delve,
           std::shared_ptr<agent::DebugSessionFactory> ebpf)
      : delve_(std::move(delve)), ebpf_(std::move(ebpf)) {}

  absl::StatusOr<std::unique_ptr<DebugSession>> StartTrace(const agent::TraceSpec& spec,
                                                           EventCallback cb) override {
    std::string engine = absl::AsciiStrToLower(spec.engine);
    if (engine == "delve") {
      return Delve(spec.binary.build_id(), DelveClaim(spec), ", or trace it with --engine ebpf too",
                   Stamp(std::move(cb), "delve", ""), [&](EventCallback released) {
                     return delve_->StartTrace(spec, std::move(released));
                   });
    }
    if (engine == "ebpf") return Refused(Ebpf(spec, std::move(cb), ", or use --engine delve"));
    if (!engine.empty() && engine != "auto") {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown engine \"", spec.engine, "\": use auto, ebpf or delve"));
    }
    // A script both engines refuse gets its error now, from the shared parser.
    auto script = delve::ParseTraceScript(spec.script, spec.script_name);
    if (!script.ok()) return script.status();
    auto s = Ebpf(spec, cb, "");
    if (s.ok() || absl::IsNotFound(s.status()) || IsScriptMistake(s.status())) {
      return Refused(std::move(s));
    }
    std::string note = absl::StrCat("eBPF engine not used: ", s.status().message());
    log::Info("engine auto: delve", {{"session", spec.session_id}, {"why", note}});
    auto d = Delve(
        spec.binary.build_id(), DelveClaim(spec), "", Stamp(std::move(cb), "delve", note),
        [&](EventCallback released) { return delve_->StartTrace(spec, std::move(released)); });
    if (d.ok()) return d;
    // Neither engine runs it: both reasons (e.g. a Go version outside Delve's range, and the
    // script line that keeps eBPF out).
    return absl::Status(d.status().code(), absl::StrCat(d.status().message(), " (", note, ")"));
  }

  absl::StatusOr<std::unique_ptr<DebugSession>> StartAttach(const agent::AttachSpec& spec,
                                                            EventCallback cb) override {
    return Delve(
        spec.binary.build_id(), DelveClaim(spec), "", std::move(cb),
        [&](EventCallback released) { return delve_->StartAttach(spec, std::move(released)); });
  }

 private:
  using Started = absl::StatusOr<std::unique_ptr<DebugSession>>;

  template <typename Spec>
  static BuildClaims::Claim DelveClaim(const Spec& spec) {
    return {BuildClaims::Kind::kDelve, spec.session_id, spec.pid, spec.pod};
  }

  // A Delve session, started by `start` once the build is claimed for Delve, with `cb` wrapped to
  // release the claim at the session's end (ReleasedAtEnd); `remedy` follows the refusal's "Stop
  // session S first (kdbg stop S)".
  Started Delve(const std::string& build_id, const BuildClaims::Claim& claim,
                absl::string_view remedy, EventCallback cb,
                const std::function<Started(EventCallback)>& start) {
    absl::StatusOr<int64_t> acquired = claims_->Acquire(build_id, claim);
    if (!acquired.ok()) {
      return absl::Status(acquired.status().code(),
                          absl::StrCat(acquired.status().message(), remedy));
    }
    auto token = std::make_shared<std::atomic<int64_t>>(*acquired);
    Started started = start(ReleasedAtEnd(std::move(cb), claims_, token));
    return Claim(std::move(started), token);
  }

  // An eBPF session: the engine claims the build once its plan is compiled (a script that does
  // not qualify claims nothing), before its first uprobe.
  Started Ebpf(const agent::TraceSpec& spec, EventCallback cb, absl::string_view remedy) {
    auto token = std::make_shared<std::atomic<int64_t>>(0);
    agent::TraceSpec claiming = spec;
    BuildClaims::Claim claim{BuildClaims::Kind::kUprobes, spec.session_id, spec.pid, spec.pod};
    claiming.before_probing = [this, token, remedy = std::string(remedy),
                               build = spec.binary.build_id(), claim]() -> absl::Status {
      absl::StatusOr<int64_t> t = claims_->Acquire(build, claim);
      if (!t.ok())
        return absl::Status(t.status().code(), absl::StrCat(t.status().message(), remedy));
      token->store(*t);
      return absl::OkStatus();
    };
    Started started = ebpf_->StartTrace(claiming, ReleasedAtEnd(std::move(cb), claims_, token));
    return Claim(std::move(started), token);
  }

  // A mistake of the script (plan.h, IsScriptMistake) says what to do: on Delve the session would
  // run, and every hit would stop the target to print the error.
  static Started Refused(Started started) {
    if (started.ok() || !IsScriptMistake(started.status())) return started;
    return absl::Status(started.status().code(),
                        absl::StrCat(started.status().message(),
                                     "; fix the script: no engine could evaluate it at any hit"));
  }

  // `started` holding `token` until it ends or is gone; the token released at once when it did not
  // start.
  Started Claim(Started started, const Token& token) {
    if (!started.ok()) {
      claims_->Release(token->exchange(0));
      return started;
    }
    return std::unique_ptr<DebugSession>(
        std::make_unique<Claimed>(std::move(*started), claims_, token));
  }

  std::shared_ptr<agent::DebugSessionFactory> delve_;
  std::shared_ptr<agent::DebugSessionFactory> ebpf_;
  std::shared_ptr<BuildClaims> claims_ = std::make_shared<BuildClaims>();
};

}  // namespace

std::unique_ptr<agent::DebugSessionFactory> NewEngineChoosingFactory(
    std::shared_ptr<agent::DebugSessionFactory> delve,
    std::shared_ptr<agent::DebugSessionFactory> ebpf) {
  return std::make_unique<Choosing>(std::move(delve), std::move(ebpf));
}

}  // namespace kdbg::ebpf
