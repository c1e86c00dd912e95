#include "agent/ebpf/hand_off_pacer.h"

#include <algorithm>

namespace kdbg::ebpf {

HandOffPacer::HandOffPacer(absl::Duration base, absl::Duration max)
    : base_(base), max_(std::max(base, max)) {}

void HandOffPacer::HandedOn(absl::Time now, size_t hits) {
  Forget(now);
  if (hits == 0) return;
  recent_.emplace_back(now, hits);
  recent_hits_ += hits;
}

absl::Duration HandOffPacer::Interval(absl::Time now) {
  Forget(now);
  const double rate = static_cast<double>(recent_hits_) / absl::ToDoubleSeconds(kRateWindow);
  if (rate <= kBaseRate) return base_;
  return std::min(max_, base_ * (rate / kBaseRate));
}

void HandOffPacer::Forget(absl::Time now) {
  while (!recent_.empty() && now - recent_.front().first >= kRateWindow) {
    recent_hits_ -= recent_.front().second;
    recent_.pop_front();
  }
}

}  // namespace kdbg::ebpf
