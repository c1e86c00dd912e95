// FakeDebugSessionFactory: sessions that behave like the Delve engine's at its interface, with no
// Delve. Each session runs its own thread, emits ArmedEvent (trace) or NoticeEvent "ready"
// (attach), then whatever hits the test injects (or `auto_hits` right away, or an endless stream
// with `endless_hits`), and on RequestEnd an EndedEvent {reason, hits, target_alive: true,
// target_traced: false}. StartTrace/StartAttach fail with `start_error` when it is set.
//
// Thread-safe. The factory must outlive its sessions.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "agent/delve/debug_session.h"

namespace kdbg::agent::testing {

class FakeDebugSession;

class FakeDebugSessionFactory final : public DebugSessionFactory {
 public:
  struct Options {
    absl::Status start_error;   // returned by StartTrace/StartAttach when not OK
    std::string delve_address;  // attach mode: what delve_address() returns
    int64_t auto_hits = 0;      // hits emitted right after arming
    bool endless_hits = false;  // emit hits as fast as possible until ended (benchmarks)
    absl::Duration start_delay = absl::ZeroDuration();  // StartTrace blocks this long (real time)
  };
  FakeDebugSessionFactory() = default;
  explicit FakeDebugSessionFactory(Options options) : options_(std::move(options)) {}

  void set_options(Options options) {
    absl::MutexLock lock(&mu_);
    options_ = std::move(options);
  }

  absl::StatusOr<std::unique_ptr<DebugSession>> StartTrace(const TraceSpec& spec,
                                                           EventCallback on_event) override;
  absl::StatusOr<std::unique_ptr<DebugSession>> StartAttach(const AttachSpec& spec,
                                                            EventCallback on_event) override;

  // Emits `n` hits on the live session `session_id`; false if there is none.
  bool InjectHits(const std::string& session_id, int n);
  // Makes the session end by itself with `reason` (e.g. TARGET_EXITED).
  bool EndFromEngine(const std::string& session_id, kdbg::v1::EndReason reason);
  // Sessions alive (started, destructor not yet run) / ever started.
  int live() const { return live_.load(); }
  int started() const { return started_.load(); }
  std::vector<TraceSpec> trace_specs() const;
  // The reason of every session that ended, in order.
  std::vector<kdbg::v1::EndReason> end_reasons() const;

 private:
  friend class FakeDebugSession;
  void Register(FakeDebugSession* s);
  void Unregister(FakeDebugSession* s, kdbg::v1::EndReason reason);

  mutable absl::Mutex mu_;
  Options options_;
  std::map<std::string, FakeDebugSession*> sessions_;
  std::vector<TraceSpec> trace_specs_;
  std::vector<kdbg::v1::EndReason> end_reasons_;
  std::atomic<int> live_{0};
  std::atomic<int> started_{0};
};

}  // namespace kdbg::agent::testing
