#include "agent/ebpf/build_claims.h"

#include "absl/strings/str_cat.h"

namespace kdbg::ebpf {
namespace {

// "pod default/checkout-7d9 (pid 4242)", or "pid 4242".
std::string Who(const BuildClaims::Claim& c) {
  if (c.pod.empty()) return absl::StrCat("pid ", c.pid);
  return absl::StrCat("pod ", c.pod, " (pid ", c.pid, ")");
}

}  // namespace

absl::StatusOr<int64_t> BuildClaims::Acquire(const std::string& build_id, const Claim& claim) {
  if (build_id.empty()) return 0;
  absl::MutexLock lock(&mu_);
  for (const auto& [token, h] : held_) {
    if (h.build_id != build_id || h.claim.kind == claim.kind) continue;
    const Claim& other = h.claim;
    std::string same = absl::StrCat(Who(other), " runs the same build as ", Who(claim),
                                    " (Go build ID ", build_id, ") and");
    if (claim.kind == Kind::kDelve) {
      return absl::FailedPreconditionError(absl::StrCat(
          same, " is traced with the eBPF engine by session ", other.session_id,
          ": the kernel would take Delve's breakpoints in pid ", claim.pid,
          " for that session's uprobes wherever both stop (an inlined call, or any breakpoint "
          "you set) and drop those hits without a word. Stop session ",
          other.session_id, " first (kdbg stop ", other.session_id, ")"));
    }
    return absl::FailedPreconditionError(absl::StrCat(
        same, " is debugged with Delve by session ", other.session_id,
        ": this session's uprobes would make the kernel take that session's breakpoints wherever "
        "both stop (an inlined call, or any breakpoint set there) and drop its hits without a "
        "word. Stop session ",
        other.session_id, " first (kdbg stop ", other.session_id, ")"));
  }
  int64_t token = next_++;
  held_[token] = Held{build_id, claim};
  return token;
}

void BuildClaims::Release(int64_t token) {
  if (token == 0) return;
  absl::MutexLock lock(&mu_);
  held_.erase(token);
}

}  // namespace kdbg::ebpf
