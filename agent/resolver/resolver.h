// Resolver: from a container ID (as Kubernetes reports it) or a host PID to the Go process to
// debug.
//
// Implementations: the real one (resolver.cc, built from the /proc reader, runtime state files
// under a host root and the Go-binary inspector; new_resolver.h) and a fake for tests of the layers
// above (agent/service/testing/fake_resolver.h).
#pragma once

#include "absl/status/statusor.h"
#include "kdbg/v1/types.pb.h"

namespace kdbg::agent {

class Resolver {
 public:
  virtual ~Resolver() = default;

  // Finds the process to debug. On success the result's `debuggable` says whether Delve may attach,
  // and `problem` why not. Errors:
  //   InvalidArgument  malformed container ID
  //   NotFound         no process of that container on this node (message names what was searched)
  //   FailedPrecondition  several Go candidates (message lists them), or the container only holds
  //                    `pause` / a monitor
  //   Unavailable      the container is still starting (its init is still the runtime's own
  //                    `runc init`): retry in a moment
  // Thread-safe.
  virtual absl::StatusOr<kdbg::v1::ResolvedTarget> Resolve(const kdbg::v1::TargetRef& target) = 0;

  // Re-checks, just before attaching, that `target.host_pid` is still the same process (same start
  // time, not a zombie, not traced). FailedPrecondition / NotFound with a clear message otherwise.
  virtual absl::Status Verify(const kdbg::v1::ResolvedTarget& target) = 0;
};

}  // namespace kdbg::agent
