// A thread-safe collector of one engine session's events (agent::EventCallback), for the engine
// integration tests (Delve and eBPF): all events in arrival order, the hits, the notices, and a
// bounded wait for a number of hits.
#pragma once

#include <cstddef>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "agent/delve/debug_session.h"
#include "common/clock.h"

namespace kdbg::testing {

class SessionEvents {
 public:
  agent::EventCallback Callback() {
    return [this](v1::Event e) {
      absl::MutexLock lock(&mu_);
      if (e.has_hit() && !e.hit().returned()) call_arrivals_.push_back(kdbg::MonotonicNow());
      events_.push_back(std::move(e));
    };
  }
  // When each call (as Hits() lists them) was handed to the callback.
  std::vector<absl::Time> CallArrivals() {
    absl::MutexLock lock(&mu_);
    return call_arrivals_;
  }
  std::vector<v1::Event> All() {
    absl::MutexLock lock(&mu_);
    return events_;
  }
  // The calls (HitEvent without `returned`), in order.
  std::vector<v1::HitEvent> Hits() {
    std::vector<v1::HitEvent> out;
    for (const auto& e : All()) {
      if (e.has_hit() && !e.hit().returned()) out.push_back(e.hit());
    }
    return out;
  }
  // The returns (HitEvent.returned), in order.
  std::vector<v1::HitEvent> Returns() {
    std::vector<v1::HitEvent> out;
    for (const auto& e : All()) {
      if (e.has_hit() && e.hit().returned()) out.push_back(e.hit());
    }
    return out;
  }
  std::vector<v1::NoticeEvent> Notices() {
    std::vector<v1::NoticeEvent> out;
    for (const auto& e : All()) {
      if (e.has_notice()) out.push_back(e.notice());
    }
    return out;
  }
  // Waits until `n` calls (or, with `returns`, `n` returns) were seen; false after `timeout`.
  bool WaitHits(size_t n, absl::Duration timeout = absl::Seconds(10), bool returns = false) {
    absl::MutexLock lock(&mu_);
    auto enough = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      size_t c = 0;
      for (const auto& e : events_) c += e.has_hit() && e.hit().returned() == returns;
      return c >= n;
    };
    return mu_.AwaitWithTimeout(absl::Condition(&enough), timeout);
  }

 private:
  absl::Mutex mu_;
  std::vector<v1::Event> events_ ABSL_GUARDED_BY(mu_);
  std::vector<absl::Time> call_arrivals_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kdbg::testing
