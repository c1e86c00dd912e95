// TotalHitRate: the total hit rate of a session over several pods (`kdbg trace deploy/NAME
// --rate-limit-total R`, ControllerTraceRequest.max_hits_per_second_total), enforced by MergeRelay
// on the hits it merges from every pod.
//
// A token bucket on the given clock: it holds at most R tokens (one second's worth, full at the
// start) and gains R per second; each hit relayed takes one. So at most R hits pass at once and R
// per second on average: at most R*(T+1) in any T seconds. A hit that finds no token is not
// relayed; it is counted, and Notice() reports the count, at most once per second of the clock (the
// first time at once), with the hits not relayed since the previous notice:
//   "12 hits not relayed: over the session's total rate of 20 hits/s (--rate-limit-total; each
//   pod's own --rate-limit still applies)"
// Notice(/*flush=*/true) returns what is left unreported whatever the time (the session's end).
//
// Not thread-safe (MergeRelay calls it under its lock). The clock must outlive it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "absl/time/time.h"
#include "common/clock.h"

namespace kdbg::controller {

class TotalHitRate {
 public:
  // `per_second` <= 0: no limit (Admit always true).
  TotalHitRate(Clock* clock, int32_t per_second);

  bool enabled() const { return per_second_ > 0; }
  int32_t per_second() const { return per_second_; }
  // One hit: true to relay it (one token taken), false when it came over the rate (counted).
  bool Admit();
  // Hits not relayed, in all.
  int64_t over() const { return over_; }
  // The notice due now, if any (see the file comment).
  std::optional<std::string> Notice(bool flush = false);

 private:
  Clock* clock_;
  int32_t per_second_;
  double tokens_;
  absl::Time refilled_;  // this and last_notice_: clock_->MonotonicNow()'s timeline
  int64_t over_ = 0;
  int64_t unreported_ = 0;
  std::optional<absl::Time> last_notice_;
};

}  // namespace kdbg::controller
