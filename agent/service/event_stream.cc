#include "agent/service/event_stream.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "agent/delve/debug_session.h"

namespace kdbg::agent {

void EventStream::Push(kdbg::v1::Event event) {
  {
    absl::MutexLock lock(&mu_);
    if (close_status_.has_value()) return;
    if (event.has_hit() && queue_.size() >= capacity_) {
      ++dropped_total_;
      ++dropped_unreported_;
      return;
    }
    queue_.push_back(std::move(event));
    if (EventBunch::Active()) {
      // The engine is handing on a bunch of events: one wakeup after the last of them.
      if (wake_deferred_) return;
      wake_deferred_ = true;
      EventBunch::Defer([this] {
        {
          absl::MutexLock lock(&mu_);
          wake_deferred_ = false;
        }
        Wake();
      });
      return;
    }
  }
  Wake();
}

void EventStream::Close(grpc::Status status) {
  {
    absl::MutexLock lock(&mu_);
    if (close_status_.has_value()) return;
    close_status_ = std::move(status);
  }
  Wake();
}

EventStream::Item EventStream::Pop() {
  absl::MutexLock lock(&mu_);
  return PopLocked();
}

EventStream::Item EventStream::PopBatch(size_t max_hits, size_t max_bytes) {
  absl::MutexLock lock(&mu_);
  if (dropped_unreported_ > 0) return PopLocked();
  // How many hits at the head go together: at most max_hits, and within max_bytes unless the
  // first alone is larger. A hit's size in the batch is its own plus a tag and a length (at
  // most 1 + 5 bytes).
  size_t n = 0;
  size_t bytes = 0;
  while (n < queue_.size() && n < max_hits && queue_[n].has_hit()) {
    const size_t size = queue_[n].ByteSizeLong() + 6;
    if (n > 0 && bytes + size > max_bytes) break;
    bytes += size;
    ++n;
  }
  if (n < 2) return PopLocked();  // a lone hit comes as itself
  Item item;
  item.kind = Item::Kind::kEvent;
  item.event.set_session_id(queue_.front().session_id());
  item.event.set_time_unix_nanos(queue_.front().time_unix_nanos());
  auto* events = item.event.mutable_batch()->mutable_events();
  events->Reserve(static_cast<int>(n));
  for (size_t i = 0; i < n; ++i) {
    *events->Add() = std::move(queue_.front());
    queue_.pop_front();
  }
  return item;
}

EventStream::Item EventStream::PopLocked() {
  Item item;
  if (dropped_unreported_ > 0 && !queue_.empty()) {
    item.kind = Item::Kind::kEvent;
    item.event.set_session_id(queue_.front().session_id());
    item.event.set_time_unix_nanos(queue_.front().time_unix_nanos());
    auto* notice = item.event.mutable_notice();
    notice->set_kind(kdbg::v1::NOTICE_KIND_EVENTS_DROPPED);
    notice->set_message(absl::StrCat(
        dropped_unreported_, " hit events dropped: the client reads slower than hits arrive"));
    dropped_unreported_ = 0;
    return item;
  }
  if (!queue_.empty()) {
    item.kind = Item::Kind::kEvent;
    item.event = std::move(queue_.front());
    queue_.pop_front();
    return item;
  }
  if (close_status_.has_value()) {
    item.kind = Item::Kind::kFinish;
    item.status = *close_status_;
  }
  return item;
}

void EventStream::SetWakeup(std::function<void()> wakeup) {
  absl::MutexLock lock(&mu_);
  wakeup_ = std::move(wakeup);
}

int64_t EventStream::dropped() const {
  absl::MutexLock lock(&mu_);
  return dropped_total_;
}

size_t EventStream::size() const {
  absl::MutexLock lock(&mu_);
  return queue_.size();
}

void EventStream::Wake() {
  std::function<void()> wakeup;
  {
    absl::MutexLock lock(&mu_);
    wakeup = wakeup_;
  }
  if (wakeup) wakeup();
}

}  // namespace kdbg::agent
