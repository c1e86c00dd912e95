#include "agent/ebpf/engine_choice.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "agent/delve/trace_script.h"
#include "common/log.h"

namespace kdbg::ebpf {
namespace {

using agent::DebugSession;
using agent::EventCallback;

// Stamps the ArmedEvent with the engine and the reason it was chosen.
EventCallback Stamp(EventCallback cb, std::string engine, std::string note) {
  return [cb = std::move(cb), engine = std::move(engine),
          note = std::move(note)](const kdbg::v1::Event& e) {
    if (!cb) return;
    if (!e.has_armed()) return cb(e);
    kdbg::v1::Event copy = e;
    copy.mutable_armed()->set_engine(engine);
    if (!note.empty()) copy.mutable_armed()->set_engine_note(note);
    cb(copy);
  };
}

class Choosing final : public agent::DebugSessionFactory {
 public:
  Choosing(std::shared_ptr<agent::DebugSessionFactory> delve,
           std::shared_ptr<agent::DebugSessionFactory> ebpf)
      : delve_(std::move(delve)), ebpf_(std::move(ebpf)) {}

  absl::StatusOr<std::unique_ptr<DebugSession>> StartTrace(const agent::TraceSpec& spec,
                                                           EventCallback cb) override {
    std::string engine = absl::AsciiStrToLower(spec.engine);
    if (engine == "delve") return delve_->StartTrace(spec, Stamp(std::move(cb), "delve", ""));
    if (engine == "ebpf") return ebpf_->StartTrace(spec, std::move(cb));
    if (!engine.empty() && engine != "auto") {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown engine \"", spec.engine, "\": use auto, ebpf or delve"));
    }
    // A script both engines refuse gets its error now, from the shared parser.
    auto script = delve::ParseTraceScript(spec.script, spec.script_name);
    if (!script.ok()) return script.status();
    auto s = ebpf_->StartTrace(spec, cb);
    if (s.ok() || absl::IsNotFound(s.status())) return s;
    std::string note = absl::StrCat("eBPF engine not used: ", s.status().message());
    log::Info("engine auto: delve", {{"session", spec.session_id}, {"why", note}});
    auto d = delve_->StartTrace(spec, Stamp(std::move(cb), "delve", note));
    if (d.ok()) return d;
    // Neither engine runs it: both reasons (e.g. a Go version outside Delve's range, and the
    // script line that keeps eBPF out).
    return absl::Status(d.status().code(), absl::StrCat(d.status().message(), " (", note, ")"));
  }

  absl::StatusOr<std::unique_ptr<DebugSession>> StartAttach(const agent::AttachSpec& spec,
                                                            EventCallback cb) override {
    return delve_->StartAttach(spec, std::move(cb));
  }

 private:
  std::shared_ptr<agent::DebugSessionFactory> delve_;
  std::shared_ptr<agent::DebugSessionFactory> ebpf_;
};

}  // namespace

std::unique_ptr<agent::DebugSessionFactory> NewEngineChoosingFactory(
    std::shared_ptr<agent::DebugSessionFactory> delve,
    std::shared_ptr<agent::DebugSessionFactory> ebpf) {
  return std::make_unique<Choosing>(std::move(delve), std::move(ebpf));
}

}  // namespace kdbg::ebpf
