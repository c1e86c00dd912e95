// Fuzz target: the container runtimes' state files (agent/resolver/runtime_state.h): containerd
// init.pid, runc state.json, crun status, Docker config.v2.json. Every format sees every input.
#include <cstdint>
#include <cstdlib>

#include "absl/strings/string_view.h"
#include "agent/resolver/runtime_state.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace kdbg::agent;
  absl::string_view text(reinterpret_cast<const char*>(data), size);
  for (StateFileKind kind : {StateFileKind::kPidFile, StateFileKind::kRuncState,
                             StateFileKind::kCrunStatus, StateFileKind::kDockerConfig}) {
    StateFileValues v = ParseStateFile(kind, text);
    if (v.pid < 0) std::abort();  // a PID is positive or 0 (none)
  }
  return 0;
}
