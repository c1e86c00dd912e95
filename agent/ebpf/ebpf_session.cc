#include "agent/ebpf/ebpf_session.h"

#include <poll.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/types/span.h"
#include "agent/delve/hit_event_pool.h"
#include "agent/delve/trace_script.h"
#include "agent/ebpf/bpf_probes.h"
#include "agent/ebpf/hand_off_pacer.h"
#include "agent/ebpf/itab_types.h"
#include "agent/ebpf/plan.h"
#include "agent/ebpf/stack_frames.h"
#include "agent/gobinary/build_info.h"
#include "agent/gobinary/dwarf.h"
#include "common/clock.h"
#include "common/fd.h"
#include "common/log.h"
#include "common/pidfd.h"
#include "common/proc_reader.h"
#include "common/status.h"
#include "common/thread_name.h"

namespace kdbg::ebpf {
namespace {

using agent::DebugSession;
using agent::EventCallback;
using agent::TraceSpec;
using kdbg::v1::EndReason;

struct ProbeState {
  ProbePlan plan;
  int64_t hits = 0;       // a tracepoint's first probe: the calls its entry and inlined calls saw
  int64_t returns = 0;    // a tracepoint's first probe: the returns its return probes reported
  bool disarmed = false;  // detached (over its rate, or its hit condition can report no more)
  bool rate_noticed = false;  // a tracepoint's first probe: its rate-limit notice was given
  uint64_t drops_reported = 0;
};

// The element subprograms of a plan (KDBG_OP_EACH) by their pc (KDBG_MAX_OPS + their index in
// Subprograms::ops): the slots each takes.
using ElementPrograms = absl::flat_hash_map<uint64_t, int>;

// Whether read step `op` stays within the `slots` slots its program resets or its region holds:
// the slot it names, a CALL's region, an EACH's count and data slots, a MAP's pointer and output
// slots; and an EACH or MAP runs an element subprogram whose elements take at most the slots it
// allots them (a MAP that reads only the map's length, `a` 0, runs none).
bool StepWithin(const kdbg_op& op, uint32_t slots, const ElementPrograms& elements) {
  if (op.slot >= slots) return false;
  if (op.code == KDBG_OP_CALL) return op.off >= 0 && op.off + (op.a & 63) <= int64_t{slots};
  if (op.code == KDBG_OP_EACH || op.code == KDBG_OP_MAP) {
    if (op.off < 0 || op.off >= int64_t{slots}) return false;
    if (op.code == KDBG_OP_MAP && op.a == 0) return true;
    auto it = elements.find(op.imm & 0xffffffff);
    return it != elements.end() && it->second > 0 && it->second <= op.a;
  }
  return true;
}

class EbpfSession final : public DebugSession {
 public:
  EbpfSession(const TraceSpec& spec, EventCallback cb, const EbpfOptions& options)
      : spec_(spec),
        on_event_(std::move(cb)),
        options_(options),
        proc_(NewProcReader(options.proc_root)),
        pacer_(absl::Milliseconds(options.batch_interval_ms),
               absl::Milliseconds(options.max_batch_interval_ms)) {}

  ~EbpfSession() override {
    RequestEnd(kdbg::v1::END_REASON_AGENT_SHUTDOWN);
    if (thread_.joinable()) thread_.join();
  }

  absl::Status Start() {
    absl::Time t0 = MonotonicNow();
    KDBG_ASSIGN_OR_RETURN(delve::TraceScript script,
                          delve::ParseTraceScript(spec_.script, spec_.script_name));
    if (auto why = CheckScript(script)) {
      return absl::UnimplementedError(
          why->line > 0 ? absl::StrCat(spec_.script_name, ":", why->line, ": ", why->reason)
                        : absl::StrCat(spec_.script_name, ": ", why->reason));
    }
    // Go's register ABI (arguments in registers, R14 = the current g) came with Go 1.17 on
    // amd64; the bundled Delve's Go range does not apply to this engine.
    if (std::optional<gobinary::GoVersion> v = gobinary::ParseGoVersion(spec_.binary.go_version());
        v.has_value() && v->major == 1 && v->minor < 17) {
      return absl::FailedPreconditionError(
          absl::StrCat("the target was built with ", spec_.binary.go_version(),
                       "; the eBPF engine needs Go 1.17 or newer (register ABI)"));
    }
    if (spec_.start_time_ticks != 0) {
      auto ticks = proc_->StartTicks(spec_.pid);
      if (!ticks.ok() || *ticks != spec_.start_time_ticks) {
        return absl::NotFoundError(absl::StrCat("process ", spec_.pid, " is gone"));
      }
    }
    exe_ = proc_->ExePath(spec_.pid);
    // A stripped target's symbols come from its --debug-binary (build ID already checked).
    const std::string dwarf_path = spec_.executable.empty() ? exe_ : spec_.executable;
    KDBG_ASSIGN_OR_RETURN(std::unique_ptr<gobinary::DwarfReader> dwarf,
                          gobinary::DwarfReader::Open(dwarf_path));
    std::optional<uint64_t> pie_load_bias;
    if (dwarf->IsPie()) {
      // Where the kernel loaded it: the entry point it reports minus the linked one.
      auto auxv = proc_->ReadFile(absl::StrCat(spec_.pid, "/auxv"));
      absl::StatusOr<uint64_t> entry =
          auxv.ok() ? ParseAuxvValue(*auxv, kAuxvEntry) : absl::StatusOr<uint64_t>(auxv.status());
      if (entry.ok() && *entry >= dwarf->EntryAddress()) {
        pie_load_bias = *entry - dwarf->EntryAddress();
      }
    }
    KDBG_ASSIGN_OR_RETURN(Plan plan, CompilePlan(script, spec_.script_name, *dwarf, pie_load_bias,
                                                 !spec_.no_returns));
    if (spec_.before_probing) KDBG_RETURN_IF_ERROR(spec_.before_probing());
    if (!dwarf->IsPie() || pie_load_bias.has_value()) {
      // Read again, on the first itab without a symbol only: most sessions never see one.
      itabs_ = std::make_unique<ItabTypes>(
          *proc_, spec_.pid, pie_load_bias.value_or(0),
          [dwarf_path]() -> absl::StatusOr<std::vector<gobinary::RuntimeType>> {
            KDBG_ASSIGN_OR_RETURN(std::unique_ptr<gobinary::DwarfReader> d,
                                  gobinary::DwarfReader::Open(dwarf_path));
            return d->RuntimeTypes();
          });
    }
    if (std::any_of(plan.probes.begin(), plan.probes.end(),
                    [](const ProbePlan& p) { return p.stack_depth > 0; })) {
      if (dwarf->IsPie() && !pie_load_bias.has_value()) {
        return absl::FailedPreconditionError(absl::StrCat(
            "the stacks of process ", spec_.pid,
            " cannot be named: where its position-independent executable is loaded is unknown "
            "(its /proc auxv is unreadable); --engine delve reports them"));
      }
      // The consumer thread names the frames (the reader is used by that thread only).
      stack_frames_ = std::make_unique<StackFrames>(std::move(dwarf), pie_load_bias.value_or(0));
    }
    dwarf.reset();
    const bool tracks_calls =
        std::any_of(plan.probes.begin(), plan.probes.end(),
                    [](const ProbePlan& p) { return p.track != KDBG_TRACK_NONE; });
    const Subprograms& sub = *plan.subprograms;
    KDBG_ASSIGN_OR_RETURN(bpf_,
                          BpfProbes::Load(options_.ring_bytes, tracks_calls ? KDBG_MAX_CALLS : 64,
                                          static_cast<uint32_t>(sub.ops.size()),
                                          static_cast<uint32_t>(sub.values.size())));
    std::vector<std::pair<kdbg_dispatch_key, kdbg_dispatch>> dispatch;
    ElementPrograms elements;
    for (const auto& [key, e] : sub.elements) elements[KDBG_MAX_OPS + e.pc] = e.slots;
    // As the probes' ops below: a step names a slot of its region only, and ends in RET.
    auto check = [&](uint32_t pc, int slots, const std::string& type) -> absl::Status {
      for (size_t k = pc;; ++k) {
        if (k >= sub.ops.size()) {
          return absl::InternalError(absl::StrCat("subprogram ", type, " has no RET"));
        }
        const kdbg_op& op = sub.ops[k];
        if (op.code == KDBG_OP_RET) return absl::OkStatus();
        if (!StepWithin(op, static_cast<uint32_t>(slots), elements)) {
          return absl::InternalError(absl::StrCat("subprogram ", type, ": read step ", k,
                                                  " names slot ", op.slot, " of ", slots));
        }
      }
    };
    for (const auto& [key, e] : sub.elements) {
      KDBG_RETURN_IF_ERROR(check(e.pc, e.slots, e.shape.type));
    }
    for (const auto& [key, v] : sub.values) {
      KDBG_RETURN_IF_ERROR(check(v.pc, v.slots, v.data.type));
      kdbg_dispatch_key k{};
      k.type = v.word;
      k.variant = v.variant;
      dispatch.push_back({k, kdbg_dispatch{KDBG_MAX_OPS + v.pc, static_cast<uint32_t>(v.slots)}});
    }
    KDBG_RETURN_IF_ERROR(bpf_->ConfigureSubprograms(sub.ops, dispatch));
    absl::Time t1 = MonotonicNow();
    int rate = spec_.requested_hits_per_second > 0 ? spec_.requested_hits_per_second
                                                   : options_.default_hits_per_second;
    rate_ = std::min(rate, options_.max_hits_per_second);
    // The one pidfd helper (common/pidfd.h): NotFound when the target is already gone.
    KDBG_ASSIGN_OR_RETURN(pidfd_, PidfdOpen(spec_.pid));
    for (uint32_t i = 0; i < plan.probes.size(); ++i) {
      const ProbePlan& pp = plan.probes[i];
      kdbg_probe p{};
      p.tgid = static_cast<uint32_t>(spec_.pid);
      p.check_flags = pp.check_flags ? 1 : 0;
      p.nops = static_cast<uint32_t>(pp.ops.size());
      p.nslots = pp.RecordSlots();
      p.interval_ns = 1000000000ull / static_cast<uint64_t>(rate_);
      p.burst_ns = p.interval_ns * static_cast<uint64_t>(rate_);  // one second's worth
      p.goid_offset = static_cast<uint32_t>(plan.goid_offset);
      p.cond_op = pp.cond_op;
      p.cond_kind = pp.cond_kind;
      p.cond_slot = pp.cond_slot;
      p.cond_shift = pp.cond_shift;
      p.cond_imm = pp.cond_imm;
      std::memcpy(p.cond_str, pp.cond_str.data(), std::min(pp.cond_str.size(), sizeof(p.cond_str)));
      p.nused = std::max(p.nslots, pp.cond_op != KDBG_COND_NONE ? pp.cond_slot + 1 : 0);
      p.rate_probe = pp.is_return ? i : static_cast<uint32_t>(pp.entry);
      p.track = pp.track;
      p.entry = static_cast<uint32_t>(pp.entry);
      p.stack_hi_offset = static_cast<uint32_t>(plan.stack_hi_offset);
      p.stack_depth = static_cast<uint32_t>(pp.stack_depth);
      p.hit_op = pp.hit_op;
      p.hit_val = pp.hit_val;
      p.cfa_offset = static_cast<int32_t>(pp.cfa_rsp);
      for (size_t k = 0; k < pp.ops.size(); ++k) {
        p.ops[k] = pp.ops[k];
        // The program resets slots [0, nused) only: a step naming another would read the
        // status an earlier hit left there.
        if (p.nused > KDBG_MAX_SLOTS || !StepWithin(p.ops[k], p.nused, elements)) {
          return absl::InternalError(absl::StrCat("tracepoint ", pp.tracepoint, ": read step ", k,
                                                  " names slot ", p.ops[k].slot, " of ", p.nused));
        }
      }
      KDBG_RETURN_IF_ERROR(bpf_->Configure(i, p));
      ProbeState st;
      st.plan = pp;
      probes_.push_back(std::move(st));
    }
    WriteRecord();
    for (uint32_t i = 0; i < probes_.size(); ++i) {
      ProbeState& ps = probes_[i];
      if (MaxReports(probes_[ps.plan.entry].plan) == 0) {
        // `cond -hitcount NAME == 0` (or `< 1`, `<= 0`): no hit can ever be reported, nor a
        // return of one; Delve disables such a breakpoint before the target runs.
        ps.disarmed = true;
        if (ps.plan.entry == i) {
          plan.notes.push_back(absl::StrCat("tracepoint ", ps.plan.tracepoint,
                                            " is not armed: its hit condition can never hold"));
        }
        continue;
      }
      absl::Status s = bpf_->Attach(i, exe_, ps.plan.file_offset, spec_.pid);
      if (!s.ok()) {
        bpf_.reset();  // detaches what was attached
        RemoveRecord();
        return s;
      }
    }
    armed_.set_host_pid(spec_.pid);
    armed_.set_attach_ms(absl::ToInt64Milliseconds(t1 - t0));
    armed_.set_arm_ms(absl::ToInt64Milliseconds(MonotonicNow() - t1));
    armed_.set_engine("ebpf");
    armed_.set_engine_note(absl::StrJoin(plan.notes, "; "));
    for (size_t i = 0; i < probes_.size(); ++i) {
      const ProbeState& ps = probes_[i];
      if (ps.plan.entry != i) continue;  // a return or an inlined call: part of its tracepoint
      kdbg::v1::Tracepoint* t = armed_.add_tracepoints();
      t->set_name(ps.plan.tracepoint);
      t->set_location(ps.plan.location);
      t->set_function(ps.plan.function.name);
      t->set_file(ps.plan.file);
      t->set_line(ps.plan.line);
      t->set_script_line(ps.plan.script_line);
      for (const Slot& v : ps.plan.vars) t->add_print(v.name);
      t->set_cond(ps.plan.cond);
    }
    mono_to_unix_ = absl::ToUnixNanos(absl::Now()) - absl::ToUnixNanos(MonotonicNow());
    start_ = MonotonicNow();
    log::Info("ebpf session armed", {{"session", spec_.session_id},
                                     {"pid", static_cast<int>(spec_.pid)},
                                     {"probes", static_cast<int>(probes_.size())},
                                     {"rate", rate_}});
    thread_ = std::thread([this] { Run(); });
    return absl::OkStatus();
  }

  const std::string& id() const override { return spec_.session_id; }
  pid_t target_pid() const override { return spec_.pid; }
  std::string delve_address() const override { return ""; }
  int64_t hits() const override { return hits_.load(); }

  void RequestEnd(EndReason reason) override {
    absl::MutexLock lock(&mu_);
    if (ended_ || requested_ != kdbg::v1::END_REASON_UNSPECIFIED) return;
    requested_ =
        reason == kdbg::v1::END_REASON_UNSPECIFIED ? kdbg::v1::END_REASON_CLIENT_STOP : reason;
  }

  absl::StatusOr<kdbg::v1::EndedEvent> Wait(absl::Duration timeout) override {
    absl::MutexLock lock(&mu_);
    if (!mu_.AwaitWithTimeout(absl::Condition(&ended_), timeout)) {
      return absl::DeadlineExceededError(
          absl::StrCat("session ", spec_.session_id, " still ending"));
    }
    return ended_event_;
  }

  bool Ended() const override {
    absl::MutexLock lock(&mu_);
    return ended_;
  }

  // Trace mode only: no attach tunnel ever reaches an eBPF session.
  bool NoteClientActivity(std::function<void()> /*ready*/) override { return true; }
  void NoteClientConnections(int /*open*/) override {}
  void TellUser(kdbg::v1::NoticeKind /*kind*/, const std::string& /*message*/) override {}

 private:
  void Emit(kdbg::v1::Event e, int64_t unix_nanos = 0) {
    e.set_session_id(spec_.session_id);
    e.set_time_unix_nanos(unix_nanos != 0 ? unix_nanos : absl::ToUnixNanos(absl::Now()));
    if (holding_) {
      held_control_ = held_control_ || !e.has_hit();
      held_.push_back(std::move(e));
    } else if (on_event_) {
      on_event_(std::move(e));
    }
  }

  // The events of ring-buffer polls are built first and handed on together, so the stream to
  // the caller finds them queued and sends them as one batch (Event.batch) rather than racing
  // each event's own write. Hits are held across polls until the pacer's interval has passed
  // since the last hand-off (ReleaseDue; options_.batch_interval_ms, longer for busy
  // tracepoints: hand_off_pacer.h): every message costs each of agent, controller and CLI far
  // more than a hit in it, so at most one message per interval goes out, however many hits; a
  // hit after a quiet interval, and any other event, goes at once.
  void Hold() { holding_ = true; }
  void Release(absl::Time now) {
    holding_ = false;
    held_control_ = false;
    pacer_.HandedOn(now, held_.size());
    agent::EventBunch bunch;  // the stream wakes its writer once, after the last of them
    for (kdbg::v1::Event& e : held_) {
      if (on_event_) on_event_(std::move(e));
    }
    held_.clear();
  }
  // Hand off sooner rather than hold more (~0.5 MB of the usual hits; agent_service.cc's
  // kMaxBatch).
  static constexpr size_t kMaxHeld = 2048;
  bool ReleaseDue(absl::Time now, absl::Time last_release, absl::Duration interval) const {
    return held_control_ || held_.size() >= kMaxHeld ||
           (!held_.empty() && now - last_release >= interval);
  }
  // The next poll's timeout: the usual one, or less when held hits fall due sooner.
  int PollTimeoutMs(absl::Time now, absl::Time last_release, absl::Duration interval) const {
    if (held_.empty()) return options_.poll_timeout_ms;
    int64_t due_ms =
        absl::ToInt64Milliseconds(last_release + interval - now + absl::Microseconds(999));
    return static_cast<int>(std::clamp<int64_t>(due_ms, 0, options_.poll_timeout_ms));
  }

  // The probes about to be attached, for ClearLeftProbes should this agent be killed before they
  // are all detached. Best effort: without a record a kill still detaches (the kernel closes the
  // descriptors); only a kill during the detach itself needs it.
  std::string RecordPath() const {
    return options_.record_dir.empty() || spec_.session_id.empty() ||
                   absl::StrContains(spec_.session_id, '/')
               ? std::string()
               : absl::StrCat(options_.record_dir, "/", spec_.session_id, ".probes");
  }
  void WriteRecord() {
    const std::string path = RecordPath();
    if (path.empty()) return;
    auto ticks = proc_->StartTicks(spec_.pid);
    std::error_code ec;
    std::filesystem::create_directories(options_.record_dir, ec);
    std::ofstream out(path, std::ios::trunc);
    for (const ProbeState& ps : probes_) {
      out << spec_.pid << " " << (ticks.ok() ? *ticks : 0) << " " << ps.plan.file_offset << "\n";
    }
    out.flush();
    if (!out) log::Warning("cannot record the session's probes", {{"path", path}});
  }
  void RemoveRecord() {
    const std::string path = RecordPath();
    std::error_code ec;
    if (!path.empty()) std::filesystem::remove(path, ec);
  }

  void Notice(kdbg::v1::NoticeKind kind, const std::string& message) {
    kdbg::v1::Event e;
    e.mutable_notice()->set_kind(kind);
    e.mutable_notice()->set_message(message);
    Emit(std::move(e));
  }

  std::optional<EndReason> Requested() {
    absl::MutexLock lock(&mu_);
    if (requested_ == kdbg::v1::END_REASON_UNSPECIFIED) return std::nullopt;
    return requested_;
  }

  bool TargetExited() {
    pollfd p{pidfd_.get(), POLLIN, 0};
    return ::poll(&p, 1, 0) > 0;
  }

  // Returns true when the session must end (max hits reached).
  bool OnRecord(const kdbg_record& rec, size_t size) {
    if (itabs_ != nullptr)
      itabs_->Trim();  // between hits: a hit's names stay valid while formatted
    if (rec.probe >= probes_.size()) return false;
    ProbeState& ps = probes_[rec.probe];
    if (rec.kind == KDBG_REC_RATE_LIMITED) {
      // The tracepoint's probes (entry, inlined calls, returns) go together.
      const size_t group = ps.plan.entry;
      if (!probes_[group].rate_noticed) {
        probes_[group].rate_noticed = true;
        Notice(kdbg::v1::NOTICE_KIND_RATE_LIMITED,
               absl::StrCat("tracepoint ", ps.plan.tracepoint, " exceeded ", rate_,
                            " hits per second and was disarmed to protect the target"));
      }
      for (uint32_t i = 0; i < probes_.size(); ++i) {
        ProbeState& other = probes_[i];
        if (other.plan.entry == group && !other.disarmed) {
          other.disarmed = true;
          bpf_->Detach(i);
        }
      }
      return false;
    }
    if (spec_.max_hits > 0 && hits_.load() >= spec_.max_hits) return true;
    // The slots, then the frames' return addresses (probe_abi.h).
    if (size < offsetof(kdbg_record, slots)) return false;
    const size_t body = std::min(size, sizeof(kdbg_record)) - offsetof(kdbg_record, slots);
    const size_t have = std::min<size_t>(rec.nslots, body / sizeof(kdbg_slot));
    if (ps.plan.is_return) return OnReturn(rec, have, ps);
    const int64_t count = ++probes_[ps.plan.entry].hits;  // the tracepoint's, as Delve counts
    if (count == MaxReports(ps.plan)) DetachCalls(ps.plan.entry);
    hits_.fetch_add(1);
    kdbg::v1::Event e = agent::HitEventPool::Shared().Take();  // back once written
    kdbg::v1::HitEvent* hit = e.mutable_hit();
    hit->set_tracepoint(ps.plan.tracepoint);
    hit->set_goroutine(static_cast<int64_t>(rec.goid));
    // An inlined call: Delve names the function the code is in.
    hit->set_function(ps.plan.caller.empty() ? ps.plan.function.name : ps.plan.caller);
    hit->set_file(ps.plan.file);
    hit->set_line(ps.plan.line);
    hit->set_hit_count(count);
    size_t slot = 0;
    auto add = [&](const Slot& s, google::protobuf::RepeatedPtrField<kdbg::v1::Variable>* out) {
      AddValue(s, rec, have, &slot, out);
    };
    for (const Slot& s : ps.plan.vars) add(s, hit->mutable_vars());
    for (const Slot& s : ps.plan.args) add(s, hit->mutable_args());
    // The frames follow all `nslots` slots: none to read from a record cut short.
    if (ps.plan.stack_depth > 0 && stack_frames_ != nullptr && have == rec.nslots) {
      const size_t room = (body - have * sizeof(kdbg_slot)) / sizeof(uint64_t);
      const auto* returns = reinterpret_cast<const uint64_t*>(&rec.slots[have]);
      std::vector<kdbg::v1::StackFrame> frames = stack_frames_->Frames(
          ps.plan.report_pc, absl::MakeConstSpan(returns, std::min<size_t>(rec.nframes, room)),
          ps.plan.stack_depth);
      for (kdbg::v1::StackFrame& f : frames) *hit->add_stack() = std::move(f);
    }
    Emit(std::move(e), mono_to_unix_ + static_cast<int64_t>(rec.ktime_ns));
    return spec_.max_hits > 0 && hits_.load() >= spec_.max_hits;
  }

  // The most hits a tracepoint with a hit condition `== N`, `<= N` or `< N` can report (Delve then
  // disables its breakpoint: proc.manageUnsatisfiableBreakpoints); -1: no bound.
  static int64_t MaxReports(const ProbePlan& p) {
    const auto n = static_cast<int64_t>(p.hit_val);
    switch (p.hit_op) {
      case KDBG_COND_EQ:
        return n >= 1 ? 1 : 0;
      case KDBG_COND_LE:
        return n;
      case KDBG_COND_LT:
        return n >= 1 ? n - 1 : 0;
      default:
        return -1;
    }
  }

  // Detaches the call probes (the entry and inlined calls) of the tracepoint whose first probe is
  // `group`: it will report no more calls. Its return probes stay for the calls it reported.
  void DetachCalls(size_t group) {
    for (uint32_t i = 0; i < probes_.size(); ++i) {
      ProbeState& p = probes_[i];
      if (p.plan.entry == group && !p.plan.is_return && !p.disarmed) {
        p.disarmed = true;
        bpf_->Detach(i);
      }
    }
  }

  // Appends `s` to `out`, formatted from the record's slots from *slot on (`have` of them arrived),
  // and moves *slot past them: none for a value not read (its `unread` text), its whole value's,
  // else one.
  void AddValue(const Slot& s, const kdbg_record& rec, size_t have, size_t* slot,
                google::protobuf::RepeatedPtrField<kdbg::v1::Variable>* out) {
    kdbg::v1::Variable* v = out->Add();
    v->set_name(s.name);
    v->set_type(s.type);
    if (!s.unread.empty()) {
      v->set_value(s.unread);  // no slot
      return;
    }
    if (s.whole != nullptr) {
      // Its slots as far as the record has them (a slot past it: "record truncated").
      const size_t n = std::min<size_t>(
          {*slot + static_cast<size_t>(s.whole_slots), have, size_t{KDBG_MAX_SLOTS}});
      v->set_value(FormatWhole(
          s, absl::MakeConstSpan(rec.slots + std::min(*slot, n), rec.slots + n), itabs_.get(),
          absl::MakeConstSpan(rec.slots, std::min<size_t>(have, KDBG_MAX_SLOTS))));
      *slot += static_cast<size_t>(s.whole_slots);
      return;
    }
    if (*slot < have && *slot < KDBG_MAX_SLOTS) {
      v->set_value(FormatSlot(s, rec.slots[*slot], itabs_.get()));
    } else {
      v->set_value("(unreadable record truncated)");
    }
    ++*slot;
  }

  // A record of a return probe: a HitEvent with `returned` and the results. Returns do not count
  // as hits (--max-hits and the session's total count calls).
  bool OnReturn(const kdbg_record& rec, size_t have, const ProbeState& ps) {
    const int64_t count = ++probes_[ps.plan.entry].returns;
    kdbg::v1::Event e = agent::HitEventPool::Shared().Take();
    kdbg::v1::HitEvent* hit = e.mutable_hit();
    hit->set_tracepoint(ps.plan.tracepoint);
    hit->set_goroutine(static_cast<int64_t>(rec.goid));
    hit->set_function(ps.plan.function.name);
    hit->set_file(ps.plan.file);
    hit->set_line(ps.plan.line);
    hit->set_hit_count(count);  // this tracepoint's returns so far
    hit->set_returned(true);
    size_t slot = 0;
    for (const Slot& s : ps.plan.results) AddValue(s, rec, have, &slot, hit->mutable_results());
    Emit(std::move(e), mono_to_unix_ + static_cast<int64_t>(rec.ktime_ns));
    return false;
  }

  void ReportDrops() {
    for (uint32_t i = 0; i < probes_.size(); ++i) {
      auto st = bpf_->State(i);
      if (!st.ok()) continue;
      ProbeState& ps = probes_[i];
      if (st->drops > ps.drops_reported) {
        Notice(
            kdbg::v1::NOTICE_KIND_EVENTS_DROPPED,
            absl::StrCat(st->drops - ps.drops_reported, " hits of tracepoint ", ps.plan.tracepoint,
                         " were lost: the agent fell behind (ring buffer full); ", st->drops,
                         " lost in total"));
        ps.drops_reported = st->drops;
      }
    }
  }

  EndReason Loop() {
    absl::Time deadline =
        spec_.duration > absl::ZeroDuration() ? start_ + spec_.duration : absl::InfiniteFuture();
    absl::Time next_drop_check = MonotonicNow() + absl::Seconds(1);
    absl::Time last_release = absl::InfinitePast();
    bool max_reached = false;
    std::function<void(const kdbg_record&, size_t)> cb = [&](const kdbg_record& r, size_t n) {
      if (!max_reached && OnRecord(r, n)) max_reached = true;
    };
    while (true) {
      if (auto r = Requested()) return *r;
      if (max_reached) return kdbg::v1::END_REASON_MAX_HITS;
      absl::Time now = MonotonicNow();
      if (now >= deadline) return kdbg::v1::END_REASON_DURATION;
      if (TargetExited()) {
        (void)bpf_->Poll(0, cb);  // what it did before exiting
        return kdbg::v1::END_REASON_TARGET_EXITED;
      }
      if (now >= next_drop_check) {
        ReportDrops();
        next_drop_check = now + absl::Seconds(1);
      }
      Hold();
      auto n = bpf_->Poll(PollTimeoutMs(now, last_release, pacer_.Interval(now)), cb);
      if (absl::Time after = MonotonicNow();
          ReleaseDue(after, last_release, pacer_.Interval(after))) {
        Release(after);
        last_release = after;
      }
      if (!n.ok()) {
        end_detail_ = std::string(n.status().message());
        return kdbg::v1::END_REASON_ERROR;
      }
    }
  }

  void Run() {
    SetCurrentThreadName("kdbg-ebpf-poll");
    {
      kdbg::v1::Event e;
      *e.mutable_armed() = armed_;
      Emit(std::move(e));
    }
    EndReason reason = Loop();
    Release(MonotonicNow());  // hits still held by the loop go first
    Finish(reason);
  }

  void Finish(EndReason reason) {
    // Records already in the ring buffer are hits that happened: report them (except past
    // --max-hits), then detach every probe.
    if (reason != kdbg::v1::END_REASON_MAX_HITS) {
      std::function<void(const kdbg_record&, size_t)> cb = [&](const kdbg_record& r, size_t n) {
        (void)OnRecord(r, n);
      };
      (void)bpf_->Poll(0, cb);
    }
    bpf_->DetachAll();
    ReportDrops();
    uint64_t drops = 0;
    for (const ProbeState& ps : probes_) drops += ps.drops_reported;
    bpf_.reset();    // closes the program, maps and ring buffer
    RemoveRecord();  // every probe detached

    bool alive = !TargetExited();
    auto st = proc_->Status(spec_.pid);
    bool traced = alive && st.ok() && st->tracer_pid != 0;
    if (!alive) reason = kdbg::v1::END_REASON_TARGET_EXITED;
    kdbg::v1::EndedEvent ended;
    ended.set_reason(reason);
    ended.set_hits(hits_.load());
    ended.set_target_alive(alive);
    ended.set_target_traced(traced);
    std::string summary = alive ? "target running, never stopped; uprobes detached"
                                : "target exited; uprobes detached";
    absl::StrAppend(&summary, " (", drops, " hits dropped)");
    if (!end_detail_.empty()) absl::StrAppend(&summary, "; ", end_detail_);
    ended.set_message(summary);
    log::Info("ebpf session ended", {{"session", spec_.session_id},
                                     {"reason", kdbg::v1::EndReason_Name(reason)},
                                     {"hits", static_cast<long long>(hits_.load())},
                                     {"dropped", static_cast<long long>(drops)}});
    kdbg::v1::Event e;
    *e.mutable_ended() = ended;
    Emit(std::move(e));
    absl::MutexLock lock(&mu_);
    ended_event_ = ended;
    ended_ = true;
  }

  TraceSpec spec_;
  EventCallback on_event_;
  EbpfOptions options_;
  std::unique_ptr<ProcReader> proc_;
  std::string exe_;
  std::unique_ptr<BpfProbes> bpf_;
  std::vector<ProbeState> probes_;
  std::unique_ptr<ItabTypes> itabs_;           // null for a PIE whose load bias is unknown
  std::unique_ptr<StackFrames> stack_frames_;  // null unless a tracepoint reports stacks
  UniqueFd pidfd_;
  int rate_ = 0;
  int64_t mono_to_unix_ = 0;
  absl::Time start_;  // this and every pacing time: MonotonicNow()'s timeline
  kdbg::v1::ArmedEvent armed_;
  std::atomic<int64_t> hits_{0};
  std::string end_detail_;
  bool holding_ = false;               // session thread only
  bool held_control_ = false;          // held_ has an event that is not a hit (session thread)
  std::vector<kdbg::v1::Event> held_;  // session thread only
  HandOffPacer pacer_;                 // session thread only
  std::thread thread_;

  mutable absl::Mutex mu_;
  EndReason requested_ ABSL_GUARDED_BY(mu_) = kdbg::v1::END_REASON_UNSPECIFIED;
  bool ended_ ABSL_GUARDED_BY(mu_) = false;
  kdbg::v1::EndedEvent ended_event_ ABSL_GUARDED_BY(mu_);
};

class EbpfFactory final : public agent::DebugSessionFactory {
 public:
  explicit EbpfFactory(EbpfOptions o) : options_(std::move(o)) {}

  absl::StatusOr<std::unique_ptr<DebugSession>> StartTrace(const TraceSpec& spec,
                                                           EventCallback on_event) override {
    auto s = std::make_unique<EbpfSession>(spec, std::move(on_event), options_);
    KDBG_RETURN_IF_ERROR(s->Start());
    return std::unique_ptr<DebugSession>(std::move(s));
  }

  absl::StatusOr<std::unique_ptr<DebugSession>> StartAttach(const agent::AttachSpec&,
                                                            EventCallback) override {
    return absl::UnimplementedError("attach mode runs on Delve only");
  }

 private:
  EbpfOptions options_;
};

}  // namespace

int ClearLeftProbes(const EbpfOptions& options) {
  if (options.record_dir.empty()) return 0;
  std::error_code ec;
  std::filesystem::directory_iterator it(options.record_dir, ec), end;
  if (ec) return 0;  // no directory: nothing was recorded
  std::unique_ptr<ProcReader> proc(NewProcReader(options.proc_root));
  int cleared = 0;
  for (; it != end; it.increment(ec)) {
    const std::string path = it->path().string();
    if (!absl::EndsWith(path, ".probes")) continue;
    std::ifstream in(path);
    int64_t pid = 0;
    uint64_t ticks = 0, offset = 0;
    while (in >> pid >> ticks >> offset) {
      auto now = proc->StartTicks(static_cast<pid_t>(pid));
      if (!now.ok() || *now != ticks) continue;  // that process is gone: nothing to clear
      const pid_t p = static_cast<pid_t>(pid);
      absl::Status s = ClearUprobe(proc->ExePath(p), offset, p);
      if (s.ok()) ++cleared;
      log::Warning("cleared a uprobe a killed agent may have left",
                   {{"record", path},
                    {"pid", static_cast<int>(p)},
                    {"offset", static_cast<long long>(offset)},
                    {"result", s.ok() ? std::string("ok") : std::string(s.message())}});
    }
    std::filesystem::remove(path, ec);
  }
  return cleared;
}

std::unique_ptr<agent::DebugSessionFactory> NewEbpfSessionFactory(EbpfOptions options) {
  return std::make_unique<EbpfFactory>(std::move(options));
}

}  // namespace kdbg::ebpf
