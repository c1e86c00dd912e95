// Clock interface: every component that reads time takes a Clock so tests can inject a FakeClock
// (common/testing/fake_clock.h) or a SteppingClock (common/testing/stepping_clock.h).
#pragma once

#include <time.h>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace kdbg {

// Now on CLOCK_MONOTONIC's timeline (time since boot), for deadlines and elapsed times that a
// step of the wall clock must neither stretch nor cut: NTP stepping the clock, a VM resumed and
// re-synced (a CI run measured 39.4 s of absl::Now() across 20.2 s of its steady clock). Only the
// difference between two MonotonicNow() values means anything: never print one, send one, or mix
// one with absl::Now().
inline absl::Time MonotonicNow() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return absl::TimeFromTimespec(ts);
}

// Two timelines. Thread-safe in every implementation.
class Clock {
 public:
  virtual ~Clock() = default;
  // Wall time, for what people and other machines read: event and audit timestamps, a listing's
  // start and lease expiry, a credential's expiry.
  virtual absl::Time Now() const = 0;
  // This clock's monotonic timeline (RealClock: kdbg::MonotonicNow() above), for every deadline,
  // limit, window and elapsed time: a stop limit, --duration, a lease, a rate window, a cache's
  // TTL. A step of the wall clock moves Now() and never this. As with kdbg::MonotonicNow(), only
  // differences mean anything: never mix its values with Now()'s.
  virtual absl::Time MonotonicNow() const = 0;
  // Blocks the calling thread for `d` of this clock's time (both timelines move by `d`).
  virtual void SleepFor(absl::Duration d) = 0;
};

class RealClock final : public Clock {
 public:
  absl::Time Now() const override { return absl::Now(); }
  absl::Time MonotonicNow() const override { return kdbg::MonotonicNow(); }
  void SleepFor(absl::Duration d) override { absl::SleepFor(d); }
  // A process-wide instance; RealClock holds no state.
  static RealClock* Get() {
    static RealClock clock;
    return &clock;
  }
};

}  // namespace kdbg
