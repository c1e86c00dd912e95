// kdbg: the command line of kdbg (also installed as kubectl-kdbg). See cli/app.h.
#include <signal.h>

#include <iostream>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "cli/app.h"
#include "cli/interrupts.h"

int main(int argc, char** argv) {
  // Debian's Abseil is built without NDEBUG, so every Mutex lock runs its deadlock detector
  // (a lock graph and stack traces: ~3% of each process's CPU per traced event, perf). Tests keep
  // it.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  auto interrupts = kdbg::cli::InterruptPipe::Install({SIGINT, SIGTERM});
  if (!interrupts.ok()) {
    std::cerr << "kdbg: error: " << interrupts.status().message() << "\n";
    return 1;
  }
  std::vector<std::string> args(argv, argv + argc);
  auto env = kdbg::cli::DefaultAppEnv(&std::cout, &std::cerr, (*interrupts)->read_fd());
  int code = kdbg::cli::RunApp(args, std::move(env));
  std::cout.flush();
  return code;
}
