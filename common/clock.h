// Clock interface: every component that reads time takes a Clock so tests can inject a FakeClock
// (common/testing/fake_clock.h).
#pragma once

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace kdbg {

// Thread-safe in every implementation.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() const = 0;
  // Blocks the calling thread for `d` of this clock's time.
  virtual void SleepFor(absl::Duration d) = 0;
};

class RealClock final : public Clock {
 public:
  absl::Time Now() const override { return absl::Now(); }
  void SleepFor(absl::Duration d) override { absl::SleepFor(d); }
  // A process-wide instance; RealClock holds no state.
  static RealClock* Get() {
    static RealClock clock;
    return &clock;
  }
};

}  // namespace kdbg
