// A small fixed pool of threads for work that blocks (Kubernetes API calls, unary agent calls that
// read /proc, audit writes), so that gRPC reactions never block. The one work queue of kdbg: the
// controller and the agent service both post to it.
//
// Thread-safe. Tasks run in FIFO order of posting (several run concurrently when threads > 1). The
// destructor runs every task already posted, then joins the threads; posting from a task while the
// queue is being destroyed is allowed (the task runs before the join).
#pragma once

#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"

namespace kdbg {

class WorkQueue {
 public:
  // At least one thread, whatever `threads` says.
  explicit WorkQueue(int threads);
  ~WorkQueue();
  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;

  // Runs `task` on one of the pool's threads.
  void Post(std::function<void()> task);

 private:
  void Loop();
  bool HasWorkOrStopping() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return stopping_ || !tasks_.empty();
  }

  absl::Mutex mu_;
  std::deque<std::function<void()>> tasks_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace kdbg
