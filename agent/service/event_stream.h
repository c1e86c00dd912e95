// EventStream: the bounded hand-off from a session's own thread (the producer, which must never
// block: it runs Delve's continue loop) to the gRPC stream reactor that writes events to the
// caller.
//
// Control events (armed, notice, ended, error) are always queued. Hit events past `capacity` are
// dropped and counted; the next event the consumer pops after a drop is a NoticeEvent
// {kind: NOTICE_KIND_EVENTS_DROPPED, message: "N hit events dropped: the client reads slower than
// hits arrive"}.
//
// Thread safety: all methods are thread-safe. The wakeup callback runs on the producer's thread
// after Push/Close with no lock of this object held, so it may call Pop() and gRPC reactor methods.
// A Push while an EventBunch (agent/delve/debug_session.h) lives on the producer's thread wakes
// the consumer only once, when the bunch ends (the stream must outlive the bunch).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>

#include "absl/synchronization/mutex.h"
#include "grpcpp/support/status.h"
#include "kdbg/v1/types.pb.h"

namespace kdbg::agent {

class EventStream {
 public:
  explicit EventStream(size_t capacity) : capacity_(capacity) {}

  // Producer side. Never blocks. Ignored after Close.
  void Push(kdbg::v1::Event event);
  // No more events: the consumer sees Finish with `status` once the queue is drained. Idempotent
  // (the first status wins).
  void Close(grpc::Status status);

  struct Item {
    enum class Kind { kEmpty, kEvent, kFinish };
    Kind kind = Kind::kEmpty;
    kdbg::v1::Event event;
    grpc::Status status;
  };
  // Consumer side: the next event, else Finish once closed and drained, else Empty.
  Item Pop();
  // As Pop, for a caller that takes batches (TraceOptions.batch_events): when the head of the
  // queue is a hit, it and the hits right behind it (at most `max_hits` in all, and no more than
  // `max_bytes` of them serialized unless the first alone is larger) come as one Event whose
  // `batch` holds them in order (session_id and time of the first); a lone hit comes as itself.
  Item PopBatch(size_t max_hits, size_t max_bytes);

  // Replaces the consumer's wakeup (nullptr detaches it); called after every Push/Close.
  void SetWakeup(std::function<void()> wakeup);
  int64_t dropped() const;
  size_t size() const;

 private:
  void Wake();
  Item PopLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const size_t capacity_;
  mutable absl::Mutex mu_;
  std::deque<kdbg::v1::Event> queue_ ABSL_GUARDED_BY(mu_);
  std::optional<grpc::Status> close_status_ ABSL_GUARDED_BY(mu_);
  int64_t dropped_total_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t dropped_unreported_ ABSL_GUARDED_BY(mu_) = 0;
  std::function<void()> wakeup_ ABSL_GUARDED_BY(mu_);
  bool wake_deferred_ ABSL_GUARDED_BY(mu_) = false;  // an EventBunch will wake the consumer
};

}  // namespace kdbg::agent
