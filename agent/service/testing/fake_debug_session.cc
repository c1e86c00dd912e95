#include "agent/service/testing/fake_debug_session.h"

#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace kdbg::agent::testing {

class FakeDebugSession final : public DebugSession {
 public:
  FakeDebugSession(FakeDebugSessionFactory* factory, std::string id, pid_t pid, bool attach,
                   std::string address, int64_t auto_hits, bool endless, EventCallback cb)
      : factory_(factory),
        id_(std::move(id)),
        pid_(pid),
        attach_(attach),
        address_(std::move(address)),
        pending_hits_(auto_hits),
        endless_(endless),
        cb_(std::move(cb)) {
    factory_->Register(this);
    thread_ = std::thread([this] { Run(); });
  }
  ~FakeDebugSession() override {
    RequestEnd(kdbg::v1::END_REASON_CLIENT_STOP);
    thread_.join();
    factory_->Unregister(this, ended_.reason());
  }

  const std::string& id() const override { return id_; }
  pid_t target_pid() const override { return pid_; }
  std::string delve_address() const override { return attach_ ? address_ : ""; }
  int64_t hits() const override { return hits_.load(); }

  void RequestEnd(kdbg::v1::EndReason reason) override {
    absl::MutexLock lock(&mu_);
    if (end_reason_ == kdbg::v1::END_REASON_UNSPECIFIED) end_reason_ = reason;
  }
  absl::StatusOr<kdbg::v1::EndedEvent> Wait(absl::Duration timeout) override {
    absl::MutexLock lock(&mu_);
    if (!mu_.AwaitWithTimeout(absl::Condition(&done_), timeout)) {
      return absl::DeadlineExceededError("fake session still running");
    }
    return ended_;
  }
  bool Ended() const override {
    absl::MutexLock lock(&mu_);
    return done_;
  }
  // What the tunnels tell an attach session: nothing in the fake depends on it.
  bool NoteClientActivity(std::function<void()> /*ready*/) override { return true; }
  void NoteClientConnections(int /*open*/) override {}
  void TellUser(kdbg::v1::NoticeKind /*kind*/, const std::string& /*message*/) override {}

  void Inject(int n) {
    absl::MutexLock lock(&mu_);
    pending_hits_ += n;
  }

 private:
  kdbg::v1::Event NewEvent() {
    kdbg::v1::Event e;
    e.set_session_id(id_);
    e.set_time_unix_nanos(absl::ToUnixNanos(absl::Now()));
    return e;
  }

  void Run() {
    kdbg::v1::Event first = NewEvent();
    if (attach_) {
      first.mutable_notice()->set_kind(kdbg::v1::NOTICE_KIND_READY);
      first.mutable_notice()->set_message(absl::StrCat("Delve listening at ", address_));
    } else {
      auto* armed = first.mutable_armed();
      armed->set_host_pid(pid_);
      auto* tp = armed->add_tracepoints();
      tp->set_name("handleSlash");
      tp->set_function("main.handleSlash");
      tp->set_file("/src/hello-world/main.go");
      tp->set_line(9);
    }
    cb_(first);
    for (;;) {
      int64_t emit = 0;
      kdbg::v1::EndReason reason;
      {
        absl::MutexLock lock(&mu_);
        auto ready = [this] {
          return end_reason_ != kdbg::v1::END_REASON_UNSPECIFIED || pending_hits_ > 0 || endless_;
        };
        mu_.Await(absl::Condition(&ready));
        reason = end_reason_;
        if (reason == kdbg::v1::END_REASON_UNSPECIFIED) {
          emit = endless_ ? 64 : pending_hits_;
          if (!endless_) pending_hits_ = 0;
        }
      }
      if (reason != kdbg::v1::END_REASON_UNSPECIFIED) break;
      for (int64_t i = 0; i < emit; ++i) {
        int64_t n = ++hits_;
        kdbg::v1::Event e = NewEvent();
        auto* hit = e.mutable_hit();
        hit->set_tracepoint("handleSlash");
        hit->set_goroutine(7);
        hit->set_function("main.handleSlash");
        hit->set_file("/src/hello-world/main.go");
        hit->set_line(9);
        auto* v = hit->add_vars();
        v->set_name("r.RemoteAddr");
        v->set_value(absl::StrCat("\"127.0.0.1:", 40000 + n % 20000, "\""));
        hit->set_hit_count(n);
        cb_(e);
      }
    }
    kdbg::v1::EndedEvent ended;
    {
      absl::MutexLock lock(&mu_);
      ended.set_reason(end_reason_);
    }
    ended.set_hits(hits_.load());
    ended.set_target_alive(true);
    ended.set_target_traced(false);
    ended.set_message("fake: target running, detached cleanly");
    kdbg::v1::Event e = NewEvent();
    *e.mutable_ended() = ended;
    cb_(e);
    absl::MutexLock lock(&mu_);
    ended_ = ended;
    done_ = true;
  }

  FakeDebugSessionFactory* factory_;
  const std::string id_;
  const pid_t pid_;
  const bool attach_;
  const std::string address_;
  mutable absl::Mutex mu_;
  int64_t pending_hits_;
  const bool endless_;
  EventCallback cb_;
  std::atomic<int64_t> hits_{0};
  kdbg::v1::EndReason end_reason_ = kdbg::v1::END_REASON_UNSPECIFIED;
  bool done_ = false;
  kdbg::v1::EndedEvent ended_;
  std::thread thread_;
};

absl::StatusOr<std::unique_ptr<DebugSession>> FakeDebugSessionFactory::StartTrace(
    const TraceSpec& spec, EventCallback on_event) {
  Options o;
  {
    absl::MutexLock lock(&mu_);
    o = options_;
    trace_specs_.push_back(spec);
  }
  if (o.start_delay > absl::ZeroDuration()) absl::SleepFor(o.start_delay);
  if (!o.start_error.ok()) return o.start_error;
  ++started_;
  return std::unique_ptr<DebugSession>(new FakeDebugSession(this, spec.session_id, spec.pid, false,
                                                            "", o.auto_hits, o.endless_hits,
                                                            std::move(on_event)));
}

absl::StatusOr<std::unique_ptr<DebugSession>> FakeDebugSessionFactory::StartAttach(
    const AttachSpec& spec, EventCallback on_event) {
  Options o;
  {
    absl::MutexLock lock(&mu_);
    o = options_;
  }
  if (o.start_delay > absl::ZeroDuration()) absl::SleepFor(o.start_delay);
  if (!o.start_error.ok()) return o.start_error;
  ++started_;
  return std::unique_ptr<DebugSession>(new FakeDebugSession(
      this, spec.session_id, spec.pid, true, o.delve_address, 0, false, std::move(on_event)));
}

bool FakeDebugSessionFactory::InjectHits(const std::string& session_id, int n) {
  absl::MutexLock lock(&mu_);
  auto it = sessions_.find(session_id);
  if (it == sessions_.end()) return false;
  it->second->Inject(n);
  return true;
}

bool FakeDebugSessionFactory::EndFromEngine(const std::string& session_id,
                                            kdbg::v1::EndReason reason) {
  absl::MutexLock lock(&mu_);
  auto it = sessions_.find(session_id);
  if (it == sessions_.end()) return false;
  it->second->RequestEnd(reason);
  return true;
}

std::vector<TraceSpec> FakeDebugSessionFactory::trace_specs() const {
  absl::MutexLock lock(&mu_);
  return trace_specs_;
}

std::vector<kdbg::v1::EndReason> FakeDebugSessionFactory::end_reasons() const {
  absl::MutexLock lock(&mu_);
  return end_reasons_;
}

void FakeDebugSessionFactory::Register(FakeDebugSession* s) {
  absl::MutexLock lock(&mu_);
  sessions_[s->id()] = s;
  ++live_;
}

void FakeDebugSessionFactory::Unregister(FakeDebugSession* s, kdbg::v1::EndReason reason) {
  absl::MutexLock lock(&mu_);
  auto it = sessions_.find(s->id());
  if (it != sessions_.end() && it->second == s) sessions_.erase(it);
  end_reasons_.push_back(reason);
  --live_;
}

}  // namespace kdbg::agent::testing
