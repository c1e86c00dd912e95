// Built instead of engine.cc while the real resolver or Delve engine is not part of the build.
#include "agent/service/engine.h"

namespace kdbg::agent {

absl::StatusOr<Engine> MakeEngine(const AgentConfig&) {
  return absl::UnimplementedError(
      "this kdbg-agent was built without the resolver or the Delve engine (kdbg_resolver / kdbg_delve)");
}

}  // namespace kdbg::agent
