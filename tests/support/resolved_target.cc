#include "tests/support/resolved_target.h"

#include "absl/strings/str_cat.h"
#include "agent/resolver/new_resolver.h"
#include "common/status.h"

namespace kdbg::testing {

absl::StatusOr<kdbg::v1::ResolvedTarget> ResolveHostPid(pid_t pid) {
  std::unique_ptr<agent::Resolver> resolver = agent::NewResolver(agent::ResolverOptions{});
  kdbg::v1::TargetRef ref;
  ref.set_host_pid(pid);
  KDBG_ASSIGN_OR_RETURN(kdbg::v1::ResolvedTarget target, resolver->Resolve(ref));
  if (!target.debuggable()) {
    return absl::FailedPreconditionError(
        absl::StrCat("pid ", pid, " cannot be debugged: ", target.problem()));
  }
  KDBG_RETURN_IF_ERROR(resolver->Verify(target));
  return target;
}

namespace {
template <typename Spec>
absl::Status Fill(pid_t pid, Spec* spec) {
  KDBG_ASSIGN_OR_RETURN(kdbg::v1::ResolvedTarget target, ResolveHostPid(pid));
  spec->pid = target.host_pid();
  spec->start_time_ticks = target.start_time_ticks();
  spec->binary = target.binary();
  return absl::OkStatus();
}
}  // namespace

absl::Status ResolveInto(pid_t pid, agent::TraceSpec* spec) { return Fill(pid, spec); }
absl::Status ResolveInto(pid_t pid, agent::AttachSpec* spec) { return Fill(pid, spec); }

}  // namespace kdbg::testing
