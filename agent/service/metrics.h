// The agent's Prometheus metrics, rendered in the text exposition format (version 0.0.4):
//
//   # HELP kdbg_agent_sessions_active Sessions currently running on this node.
//   # TYPE kdbg_agent_sessions_active gauge
//   kdbg_agent_sessions_active 2
//   kdbg_agent_sessions_total{mode="trace",outcome="client_stop"} 5
//   kdbg_agent_resolve_seconds_bucket{le="0.005"} 3 ... _sum ... _count
//
// Outcomes are the end reasons in lower case without the END_REASON_ prefix ("client_gone",
// "lease_expired", ...), plus "refused" (limits, duplicates, admission) and "failed" (never armed).
// Thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace kdbg::agent {

class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds)
      : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {}
  void Observe(double value);
  // Appends the _bucket/_sum/_count lines for `name`.
  void Render(const std::string& name, std::string* out) const;
  uint64_t count() const;

 private:
  mutable absl::Mutex mu_;
  std::vector<double> bounds_;
  std::vector<uint64_t> counts_;  // per bucket, not cumulative; last is +Inf
  double sum_ = 0;
  uint64_t count_ = 0;
};

class AgentMetrics {
 public:
  AgentMetrics();

  void SessionStarted();
  // `mode`: "trace" | "attach"; `outcome` as described above. Decrements active when `was_active`.
  void SessionEnded(const std::string& mode, const std::string& outcome, bool was_active);
  void SessionRefused(const std::string& mode);
  void Hit();
  void EventsDropped(int64_t n);
  void DelveFailure();
  void ObserveResolve(absl::Duration d) { resolve_.Observe(absl::ToDoubleSeconds(d)); }
  void ObserveAttach(absl::Duration d) { attach_.Observe(absl::ToDoubleSeconds(d)); }

  int64_t active() const;
  int64_t hits() const;
  int64_t total(const std::string& mode, const std::string& outcome) const;

  std::string RenderPrometheus() const;

 private:
  mutable absl::Mutex mu_;
  int64_t active_ = 0;
  int64_t hits_ = 0;
  int64_t dropped_ = 0;
  int64_t delve_failures_ = 0;
  std::map<std::pair<std::string, std::string>, int64_t> totals_;
  Histogram resolve_;
  Histogram attach_;
};

// "END_REASON_CLIENT_GONE" -> "client_gone".
std::string OutcomeName(int end_reason);

}  // namespace kdbg::agent
