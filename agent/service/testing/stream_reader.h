// StreamReader: blocks a test until an EventStream yields its next item (no sleeps, no polling).
#pragma once

#include <memory>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "agent/service/event_stream.h"

namespace kdbg::agent::testing {

class StreamReader {
 public:
  explicit StreamReader(std::shared_ptr<EventStream> stream) : stream_(std::move(stream)) {
    stream_->SetWakeup([this] {
      absl::MutexLock lock(&mu_);
      ++wakeups_;
    });
  }
  ~StreamReader() { stream_->SetWakeup(nullptr); }

  // The next item, waiting up to `timeout` (real time) for one; kEmpty on timeout.
  EventStream::Item Next(absl::Duration timeout = absl::Seconds(10)) {
    absl::Time deadline = absl::Now() + timeout;
    for (;;) {
      int64_t seen;
      {
        absl::MutexLock lock(&mu_);
        seen = wakeups_;
      }
      EventStream::Item item = stream_->Pop();
      if (item.kind != EventStream::Item::Kind::kEmpty) return item;
      absl::MutexLock lock(&mu_);
      auto changed = [this, seen]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return wakeups_ != seen; };
      if (!mu_.AwaitWithDeadline(absl::Condition(&changed), deadline)) return {};
    }
  }

 private:
  std::shared_ptr<EventStream> stream_;
  absl::Mutex mu_;
  int64_t wakeups_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace kdbg::agent::testing
