#include "agent/delve/hit_event_pool.h"

#include <utility>

namespace kdbg::agent {

HitEventPool& HitEventPool::Shared() {
  static auto* pool = new HitEventPool();  // never destroyed: streams may give back at exit
  return *pool;
}

kdbg::v1::Event HitEventPool::Take() {
  kdbg::v1::Event event;
  {
    absl::MutexLock lock(&mu_);
    ++out_;
    if (!pool_.empty()) {
      event = std::move(pool_.back());  // a swap: no copy
      pool_.pop_back();
    }
  }
  (void)event.mutable_hit();
  return event;
}

void HitEventPool::Give(kdbg::v1::Event event) {
  if (!event.has_hit() || static_cast<size_t>(event.hit().GetCachedSize()) > kMaxPooledBytes) {
    return;
  }
  {
    absl::MutexLock lock(&mu_);
    if (out_ <= 0 || pool_.size() >= kMaxPooled) return;  // freed on return, outside the lock
  }
  // Cleared, keeping the hit's own memory: clearing the event would free its oneof's hit.
  kdbg::v1::HitEvent* hit = event.release_hit();
  event.Clear();
  hit->Clear();
  event.set_allocated_hit(hit);
  absl::MutexLock lock(&mu_);
  if (out_ <= 0 || pool_.size() >= kMaxPooled) return;
  --out_;
  pool_.push_back(std::move(event));
}

void HitEventPool::GiveHits(kdbg::v1::Event written) {
  if (written.has_batch()) {
    for (kdbg::v1::Event& e : *written.mutable_batch()->mutable_events()) Give(std::move(e));
  } else {
    Give(std::move(written));
  }
}

size_t HitEventPool::size() const {
  absl::MutexLock lock(&mu_);
  return pool_.size();
}

}  // namespace kdbg::agent
