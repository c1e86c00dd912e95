// kdbg-controller: authenticates kdbg users, authorizes them, routes them to the agent of their
// pod's node and relays the session. Flags: `kdbg-controller --help`; design: docs/controller.md.
#include "absl/synchronization/mutex.h"
#include "controller/serve.h"

int main(int argc, char** argv) {
  // Debian's Abseil is built without NDEBUG, so every Mutex lock runs its deadlock detector
  // (a lock graph and stack traces: ~3% of each process's CPU per traced event, perf). Tests keep
  // it.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  return kdbg::controller::ServeMain(argc, argv);
}
