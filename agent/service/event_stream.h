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

  // Replaces the consumer's wakeup (nullptr detaches it); called after every Push/Close.
  void SetWakeup(std::function<void()> wakeup);
  int64_t dropped() const;
  size_t size() const;

 private:
  void Wake();

  const size_t capacity_;
  mutable absl::Mutex mu_;
  std::deque<kdbg::v1::Event> queue_;
  std::optional<grpc::Status> close_status_;
  int64_t dropped_total_ = 0;
  int64_t dropped_unreported_ = 0;
  std::function<void()> wakeup_;
};

}  // namespace kdbg::agent
