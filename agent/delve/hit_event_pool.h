// Hit events recycled between the engine that fills them and the stream that writes them.
//
// An eBPF session turns every ring-buffer record into a kdbg::v1::Event holding a HitEvent, and
// the agent's stream frees it once written: building and freeing a hit's ~30 strings (tracepoint,
// function, file, each variable's name, type and value) was ~40% of the eBPF consumer's CPU in a
// profile of a traced HTTP load (docs/STATUS.md, session 38). A protobuf message cleared keeps its
// strings' memory and its repeated fields' elements, so an event taken back after its write and
// filled again allocates little (building, serializing and freeing a four-variable hit: 1.05-1.23
// us, with the pool 0.73-0.86 us, in a throwaway loop of 200,000 hits with jemalloc). Values are
// formatted into new strings and moved in: what is reused is the rest (the variables, their names
// and types, the tracepoint, function and file). The pool is shared by the process (engines and
// streams do not know each other: events reach the stream through callbacks) and bounded: it
// keeps at most kMaxPooled events, none larger than kMaxPooledBytes when last written, and no
// more than are still out (taken and not given back). The Delve engine's hits are built
// elsewhere: kept only in place of events taken and lost on the way (dropped by a full stream, a
// failed write), as many.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "kdbg/v1/types.pb.h"

namespace kdbg::agent {

class HitEventPool {
 public:
  // One full message's worth (agent_service.cc's kMaxBatch).
  static constexpr size_t kMaxPooled = 2048;
  // The serialized size of a hit kept, at most: a cleared event keeps its strings' capacity and
  // its variables, and a large print's would stay with it.
  static constexpr size_t kMaxPooledBytes = 2048;

  // The process's pool.
  static HitEventPool& Shared();

  // An event holding a HitEvent, every field of both clear: a pooled one when there is one,
  // else a new one.
  kdbg::v1::Event Take();

  // `event` written and no longer needed: kept (cleared) if it holds a hit, was no larger than
  // kMaxPooledBytes when last serialized, and the pool has room and events still out; else freed.
  void Give(kdbg::v1::Event event);

  // Give for each hit `written` holds: itself, or the events of its batch.
  void GiveHits(kdbg::v1::Event written);

  size_t size() const;

 private:
  mutable absl::Mutex mu_;
  std::vector<kdbg::v1::Event> pool_ ABSL_GUARDED_BY(mu_);
  int64_t out_ ABSL_GUARDED_BY(mu_) = 0;  // taken and not given back
};

}  // namespace kdbg::agent
