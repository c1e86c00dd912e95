// A Clock for tests: time moves only when the test advances it.
#pragma once

#include "absl/synchronization/mutex.h"
#include "common/clock.h"

namespace kdbg::testing {

class FakeClock final : public Clock {
 public:
  // The monotonic timeline starts far from the wall's, so a value taken from one and compared with
  // the other is visibly wrong in a test.
  explicit FakeClock(absl::Time start = absl::FromUnixSeconds(1700000000))
      : now_(start), monotonic_(absl::UnixEpoch() + absl::Hours(1)) {}
  absl::Time Now() const override {
    absl::MutexLock lock(&mu_);
    return now_;
  }
  absl::Time MonotonicNow() const override {
    absl::MutexLock lock(&mu_);
    return monotonic_;
  }
  // Advances time by `d` instead of blocking.
  void SleepFor(absl::Duration d) override { Advance(d); }
  // Time passes: both timelines move by `d`.
  void Advance(absl::Duration d) {
    absl::MutexLock lock(&mu_);
    now_ += d;
    monotonic_ += d;
  }
  // The wall clock is set (NTP's step, a VM resumed and re-synced): Now() moves by `d`, either
  // way; no time passes.
  void StepWall(absl::Duration d) {
    absl::MutexLock lock(&mu_);
    now_ += d;
  }

 private:
  mutable absl::Mutex mu_;
  absl::Time now_;
  absl::Time monotonic_;
};

}  // namespace kdbg::testing
