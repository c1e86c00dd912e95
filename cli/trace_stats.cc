#include "cli/trace_stats.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "cli/command_util.h"
#include "common/clock.h"

namespace kdbg::cli {

TraceStats::Point& TraceStats::PointFor(const std::string& name) {
  auto it = points_.find(name);
  if (it != points_.end()) return it->second;
  order_.push_back(name);
  return points_[name];
}

void TraceStats::OnArmed(const kdbg::v1::ArmedEvent& armed) {
  engine_ = armed.engine();
  for (const auto& tp : armed.tracepoints()) PointFor(tp.name()).function = tp.function();
}

void TraceStats::OnHit(const kdbg::v1::HitEvent& hit, absl::Time now) {
  ++hits_;
  Point& p = PointFor(hit.tracepoint());
  if (p.function.empty()) p.function = hit.function();
  ++p.hits;
  int64_t second = absl::ToUnixSeconds(now);
  ++p.per_second[second];
  while (!p.per_second.empty() &&
         p.per_second.begin()->first < second - absl::ToInt64Seconds(kRateWindow)) {
    p.per_second.erase(p.per_second.begin());
  }
  const auto& vars = hit.vars().empty() ? hit.args() : hit.vars();
  for (const auto& v : vars) {
    auto [it, fresh] = p.values.try_emplace(v.name());
    if (fresh) p.expressions.push_back(v.name());
    Values& values = it->second;
    auto c = values.counts.find(v.value());
    if (c != values.counts.end()) {
      ++c->second;
    } else if (values.counts.size() < kMaxDistinctValues) {
      values.counts[v.value()] = 1;
    } else {
      ++values.other;
    }
  }
}

double TraceStats::Rate(const Point& p, absl::Time now) const {
  int64_t second = absl::ToUnixSeconds(now);
  int64_t window = absl::ToInt64Seconds(kRateWindow);
  int64_t n = 0;
  for (const auto& [s, count] : p.per_second) {
    if (s > second - window && s <= second) n += count;
  }
  // A session younger than the window is averaged over its own age.
  double span = std::min(absl::ToDoubleSeconds(kRateWindow),
                         std::max(1.0, absl::ToDoubleSeconds(now - start_)));
  return static_cast<double>(n) / span;
}

std::string TraceStats::Render(absl::Time now) const {
  double total_rate = 0;
  for (const auto& [name, p] : points_) total_rate += Rate(p, now);
  std::string overhead = "overhead unknown until armed";
  if (engine_ == "delve") {
    overhead = absl::StrFormat("target stopped ~%.1f ms/s (est., ~%s per hit)",
                               total_rate * absl::ToDoubleMilliseconds(kDelveHitCost),
                               absl::FormatDuration(kDelveHitCost));
  } else if (engine_ == "ebpf") {
    overhead = absl::StrFormat("target CPU ~%.2f ms/s (est., ~%s per hit)",
                               total_rate * absl::ToDoubleMilliseconds(kEbpfHitCost),
                               absl::FormatDuration(kEbpfHitCost));
  }
  std::string out =
      absl::StrFormat("kdbg stats: engine %s, %ds, %d hits, %s\n", engine_.empty() ? "?" : engine_,
                      static_cast<int>(absl::ToInt64Seconds(now - start_)), hits_, overhead);
  std::vector<std::vector<std::string>> rows = {{"TRACEPOINT", "HITS/S", "HITS", "FUNCTION"}};
  for (const std::string& name : order_) {
    const Point& p = points_.at(name);
    rows.push_back({name, absl::StrFormat("%.1f", Rate(p, now)), absl::StrCat(p.hits), p.function});
  }
  std::vector<size_t> widths(4, 0);
  for (const auto& r : rows) {
    for (size_t c = 0; c < r.size(); ++c) widths[c] = std::max(widths[c], r[c].size());
  }
  for (size_t i = 0; i < rows.size(); ++i) {
    std::string line;
    for (size_t c = 0; c < rows[i].size(); ++c) {
      absl::StrAppend(&line, rows[i][c]);
      if (c + 1 < rows[i].size()) line.append(widths[c] - rows[i][c].size() + 3, ' ');
    }
    absl::StrAppend(&out, line, "\n");
    if (i == 0) continue;
    const Point& p = points_.at(order_[i - 1]);
    for (const std::string& expr : p.expressions) {
      const Values& v = p.values.at(expr);
      std::vector<std::pair<int64_t, std::string>> top;
      for (const auto& [value, count] : v.counts) top.emplace_back(-count, value);
      std::sort(top.begin(), top.end());
      std::string shown;
      for (size_t k = 0; k < top.size() && k < static_cast<size_t>(kTopValues); ++k) {
        std::string value = top[k].second.size() > 60
                                ? absl::StrCat(top[k].second.substr(0, 57), "...")
                                : top[k].second;
        absl::StrAppend(&shown, k == 0 ? "" : " | ", value, " ", -top[k].first);
      }
      size_t rest = top.size() > static_cast<size_t>(kTopValues) ? top.size() - kTopValues : 0;
      if (rest > 0 || v.other > 0) {
        absl::StrAppend(&shown, " | (", rest, v.other > 0 ? "+" : "", " more)");
      }
      absl::StrAppend(&out, "  ", expr, "   ", shown, "\n");
    }
  }
  return out;
}

std::string RedrawInPlace(const std::string& block, int previous_lines) {
  if (previous_lines <= 0) return block;
  return absl::StrCat("\x1b[", previous_lines, "A\x1b[J", block);
}

namespace internal {

StatsPrinter::StatsPrinter(Console& console, bool terminal, absl::Duration interval)
    : console_(console), terminal_(terminal), interval_(interval), stats_(MonotonicNow()) {
  thread_ = std::thread([this] { Loop(); });
}

StatsPrinter::~StatsPrinter() { Finish(); }

bool StatsPrinter::Feed(const kdbg::v1::Event& event) {
  absl::MutexLock lock(&mu_);
  if (event.has_armed()) stats_.OnArmed(event.armed());
  if (event.has_hit()) {
    // A return (HitEvent.returned) is the same call's second event: counted once, at entry.
    if (!event.hit().returned()) stats_.OnHit(event.hit(), MonotonicNow());
    return true;
  }
  return false;
}

void StatsPrinter::Draw(absl::Time now) {
  std::string block = stats_.Render(now);
  int lines = static_cast<int>(std::count(block.begin(), block.end(), '\n'));
  if (terminal_) {
    console_.Out(RedrawInPlace(block, drawn_lines_));
    drawn_lines_ = lines;
  } else {
    console_.Out(block);
  }
}

void StatsPrinter::Loop() {
  int tick = 0;
  absl::MutexLock lock(&mu_);
  while (!done_) {
    mu_.AwaitWithTimeout(absl::Condition(&done_), interval_);
    if (done_) break;
    ++tick;
    if (terminal_ || tick % 5 == 0) Draw(MonotonicNow());
  }
}

void StatsPrinter::Finish() {
  {
    absl::MutexLock lock(&mu_);
    if (done_) return;
    done_ = true;
  }
  if (thread_.joinable()) thread_.join();
  absl::MutexLock lock(&mu_);
  Draw(MonotonicNow());
}

}  // namespace internal

}  // namespace kdbg::cli
