#include "agent/service/metrics.h"

#include <cctype>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "kdbg/v1/types.pb.h"

namespace kdbg::agent {
namespace {
std::string FormatDouble(double v) { return absl::StrFormat("%g", v); }

void Header(std::string* out, const char* name, const char* type, const char* help) {
  absl::StrAppend(out, "# HELP ", name, " ", help, "\n# TYPE ", name, " ", type, "\n");
}
}  // namespace

void Histogram::Observe(double value) {
  absl::MutexLock lock(&mu_);
  size_t i = 0;
  while (i < bounds_.size() && value > bounds_[i]) ++i;
  ++counts_[i];
  sum_ += value;
  ++count_;
}

uint64_t Histogram::count() const {
  absl::MutexLock lock(&mu_);
  return count_;
}

void Histogram::Render(const std::string& name, std::string* out) const {
  absl::MutexLock lock(&mu_);
  uint64_t cumulative = 0;
  for (size_t i = 0; i < bounds_.size(); ++i) {
    cumulative += counts_[i];
    absl::StrAppend(out, name, "_bucket{le=\"", FormatDouble(bounds_[i]), "\"} ", cumulative, "\n");
  }
  cumulative += counts_.back();
  absl::StrAppend(out, name, "_bucket{le=\"+Inf\"} ", cumulative, "\n");
  absl::StrAppend(out, name, "_sum ", FormatDouble(sum_), "\n", name, "_count ", count_, "\n");
}

AgentMetrics::AgentMetrics()
    : resolve_({0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5}),
      attach_({0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}) {}

void AgentMetrics::SessionStarted() {
  absl::MutexLock lock(&mu_);
  ++active_;
}

void AgentMetrics::SessionEnded(const std::string& mode, const std::string& outcome,
                                bool was_active) {
  absl::MutexLock lock(&mu_);
  if (was_active) --active_;
  ++totals_[{mode, outcome}];
}

void AgentMetrics::SessionRefused(const std::string& mode) {
  absl::MutexLock lock(&mu_);
  ++totals_[{mode, "refused"}];
}

void AgentMetrics::Hit() {
  absl::MutexLock lock(&mu_);
  ++hits_;
}

void AgentMetrics::EventsDropped(int64_t n) {
  absl::MutexLock lock(&mu_);
  dropped_ += n;
}

void AgentMetrics::DelveFailure() {
  absl::MutexLock lock(&mu_);
  ++delve_failures_;
}

int64_t AgentMetrics::active() const {
  absl::MutexLock lock(&mu_);
  return active_;
}

int64_t AgentMetrics::hits() const {
  absl::MutexLock lock(&mu_);
  return hits_;
}

int64_t AgentMetrics::total(const std::string& mode, const std::string& outcome) const {
  absl::MutexLock lock(&mu_);
  auto it = totals_.find({mode, outcome});
  return it == totals_.end() ? 0 : it->second;
}

std::string AgentMetrics::RenderPrometheus() const {
  std::string out;
  {
    absl::MutexLock lock(&mu_);
    Header(&out, "kdbg_agent_sessions_active", "gauge", "Sessions currently running on this node.");
    absl::StrAppend(&out, "kdbg_agent_sessions_active ", active_, "\n");
    Header(&out, "kdbg_agent_sessions_total", "counter",
           "Sessions by mode and outcome (end reason, refused, failed).");
    for (const auto& [key, n] : totals_) {
      absl::StrAppend(&out, "kdbg_agent_sessions_total{mode=\"", key.first, "\",outcome=\"",
                      key.second, "\"} ", n, "\n");
    }
    Header(&out, "kdbg_agent_hits_total", "counter", "Tracepoint hits emitted by all sessions.");
    absl::StrAppend(&out, "kdbg_agent_hits_total ", hits_, "\n");
    Header(&out, "kdbg_agent_events_dropped_total", "counter",
           "Hit events dropped because a client read too slowly.");
    absl::StrAppend(&out, "kdbg_agent_events_dropped_total ", dropped_, "\n");
    Header(&out, "kdbg_agent_delve_failures_total", "counter",
           "Sessions Delve failed to start, attach or arm.");
    absl::StrAppend(&out, "kdbg_agent_delve_failures_total ", delve_failures_, "\n");
  }
  Header(&out, "kdbg_agent_resolve_seconds", "histogram",
         "Time to resolve a container to its process.");
  resolve_.Render("kdbg_agent_resolve_seconds", &out);
  Header(&out, "kdbg_agent_attach_seconds", "histogram",
         "Time from session start to armed (trace) or ready (attach).");
  attach_.Render("kdbg_agent_attach_seconds", &out);
  return out;
}

std::string OutcomeName(int end_reason) {
  std::string name = kdbg::v1::EndReason_Name(static_cast<kdbg::v1::EndReason>(end_reason));
  if (absl::StartsWith(name, "END_REASON_")) name = name.substr(11);
  if (name.empty()) name = "unknown";
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return name;
}

}  // namespace kdbg::agent
