// A thread-safe collector of one engine session's events (agent::EventCallback), for the engine
// integration tests (Delve and eBPF): all events in arrival order, the hits, the notices, and a
// bounded wait for a number of hits.
#pragma once

#include <cstddef>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "agent/delve/debug_session.h"

namespace kdbg::testing {

class SessionEvents {
 public:
  agent::EventCallback Callback() {
    return [this](const v1::Event& e) {
      absl::MutexLock lock(&mu_);
      events_.push_back(e);
    };
  }
  std::vector<v1::Event> All() {
    absl::MutexLock lock(&mu_);
    return events_;
  }
  std::vector<v1::HitEvent> Hits() {
    std::vector<v1::HitEvent> out;
    for (const auto& e : All()) {
      if (e.has_hit()) out.push_back(e.hit());
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
  // Waits until `n` hits were seen; false after `timeout`.
  bool WaitHits(size_t n, absl::Duration timeout = absl::Seconds(10)) {
    absl::MutexLock lock(&mu_);
    auto enough = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      size_t c = 0;
      for (const auto& e : events_) c += e.has_hit();
      return c >= n;
    };
    return mu_.AwaitWithTimeout(absl::Condition(&enough), timeout);
  }

 private:
  absl::Mutex mu_;
  std::vector<v1::Event> events_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kdbg::testing
