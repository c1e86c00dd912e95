// StreamReader: blocks a test until an EventStream yields its next item (no sleeps, no polling).
#pragma once

#include <memory>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "agent/service/event_stream.h"

namespace kdbg::agent::testing {

class StreamReader {
 public:
  // The wakeup holds the count it bumps: EventStream calls a wakeup outside its lock, so a call in
  // flight may outlive SetWakeup(nullptr) and this reader (as the agent's reactor holds itself by
  // a weak_ptr, agent_service.cc).
  explicit StreamReader(std::shared_ptr<EventStream> stream)
      : stream_(std::move(stream)), wakeups_(std::make_shared<Wakeups>()) {
    stream_->SetWakeup([w = wakeups_] {
      absl::MutexLock lock(&w->mu);
      ++w->count;
    });
  }
  ~StreamReader() { stream_->SetWakeup(nullptr); }

  // The next item, waiting up to `timeout` (real time) for one; kEmpty on timeout.
  EventStream::Item Next(absl::Duration timeout = absl::Seconds(10)) {
    absl::Time deadline = absl::Now() + timeout;
    Wakeups& w = *wakeups_;
    for (;;) {
      int64_t seen;
      {
        absl::MutexLock lock(&w.mu);
        seen = w.count;
      }
      EventStream::Item item = stream_->Pop();
      if (item.kind != EventStream::Item::Kind::kEmpty) return item;
      absl::MutexLock lock(&w.mu);
      auto changed = [&w, seen]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(w.mu) { return w.count != seen; };
      if (!w.mu.AwaitWithDeadline(absl::Condition(&changed), deadline)) return {};
    }
  }

 private:
  struct Wakeups {
    absl::Mutex mu;
    int64_t count ABSL_GUARDED_BY(mu) = 0;
  };
  std::shared_ptr<EventStream> stream_;
  std::shared_ptr<Wakeups> wakeups_;
};

}  // namespace kdbg::agent::testing
