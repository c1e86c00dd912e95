// A Clock for tests of code that also waits on real time (sockets, child processes, Delve): both
// timelines are the real ones, and the test can step the wall clock as NTP or a resumed VM does.
#pragma once

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/clock.h"

namespace kdbg::testing {

class SteppingClock final : public Clock {
 public:
  absl::Time Now() const override {
    absl::MutexLock lock(&mu_);
    return absl::Now() + wall_offset_;
  }
  absl::Time MonotonicNow() const override { return kdbg::MonotonicNow(); }
  void SleepFor(absl::Duration d) override { absl::SleepFor(d); }
  // Sets the wall clock `d` later (earlier if negative) than it is: Now() jumps, MonotonicNow()
  // does not.
  void StepWall(absl::Duration d) {
    absl::MutexLock lock(&mu_);
    wall_offset_ += d;
  }

 private:
  mutable absl::Mutex mu_;
  absl::Duration wall_offset_;
};

}  // namespace kdbg::testing
