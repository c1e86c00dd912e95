// Fuzz target: /proc/PID/cgroup lines and container IDs (agent/resolver/container_ref.h). Every
// process on the node, including a container's, chooses its cgroup path (a process with
// CAP_SYS_ADMIN in its cgroup namespace can create sub-cgroups with any name), and the container
// ID comes from the user's request (ParseContainerRef). Every parser sees every input.
#include <cstdint>
#include <cstdlib>

#include "absl/strings/string_view.h"
#include "agent/resolver/container_ref.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace kdbg::agent;
  absl::string_view text(reinterpret_cast<const char*>(data), size);
  for (const CgroupLine& line : ParseCgroupFile(text)) {
    if (auto m = MatchCgroupPath(line.path); m.has_value()) {
      if (m->id.empty() || !SameContainerId(m->id, m->id)) std::abort();
    }
  }
  if (auto m = MatchCgroupFile(text); m.has_value() && m->id.empty()) std::abort();
  (void)CgroupIsNamespaceRoot(text);
  // An accepted ID is what the resolver puts into paths (run/runc/<id>/state.json): lower-case hex
  // only, never a '/' or "..".
  if (auto ref = ParseContainerRef(text); ref.ok()) {
    if (ref->id.size() < 12 || ref->id.size() > 64) std::abort();
    for (char c : ref->id) {
      if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) std::abort();
    }
  }
  (void)SameContainerId(text.substr(0, size / 2), text.substr(size / 2));
  return 0;
}
