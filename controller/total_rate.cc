#include "controller/total_rate.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace kdbg::controller {

TotalHitRate::TotalHitRate(Clock* clock, int32_t per_second)
    : clock_(clock),
      per_second_(std::max<int32_t>(0, per_second)),
      tokens_(per_second_),
      refilled_(clock->MonotonicNow()) {}

bool TotalHitRate::Admit() {
  if (!enabled()) return true;
  const absl::Time now = clock_->MonotonicNow();
  if (now > refilled_) {
    tokens_ = std::min<double>(per_second_,
                               tokens_ + absl::ToDoubleSeconds(now - refilled_) * per_second_);
    refilled_ = now;
  }
  if (tokens_ >= 1) {
    tokens_ -= 1;
    return true;
  }
  ++over_;
  ++unreported_;
  return false;
}

std::optional<std::string> TotalHitRate::Notice(bool flush) {
  if (unreported_ == 0) return std::nullopt;
  const absl::Time now = clock_->MonotonicNow();
  if (!flush && last_notice_.has_value() && now - *last_notice_ < absl::Seconds(1)) {
    return std::nullopt;
  }
  last_notice_ = now;
  std::string msg = absl::StrCat(unreported_, unreported_ == 1 ? " hit" : " hits",
                                 " not relayed: over the session's total rate of ", per_second_,
                                 " hits/s (--rate-limit-total; each pod's own --rate-limit still "
                                 "applies)");
  unreported_ = 0;
  return msg;
}

}  // namespace kdbg::controller
