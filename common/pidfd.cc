#include "common/pidfd.h"

#include <poll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "common/status.h"

namespace kdbg {

absl::StatusOr<UniqueFd> PidfdOpen(pid_t pid) {
  int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (fd >= 0) return UniqueFd(fd);
  if (errno == ESRCH) return absl::NotFoundError(absl::StrCat("process ", pid, " is gone"));
  if (errno == ENOSYS) {
    return absl::UnimplementedError("pidfd_open is not supported by this kernel (needs 5.3+)");
  }
  return ErrnoToStatus(errno, absl::StrCat("pidfd_open ", pid));
}

bool PidfdWaitExit(int pidfd, absl::Duration timeout) {
  absl::Time deadline =
      timeout == absl::InfiniteDuration() ? absl::InfiniteFuture() : MonotonicNow() + timeout;
  for (;;) {
    int ms = -1;
    if (deadline != absl::InfiniteFuture()) {
      absl::Duration left = std::max(deadline - MonotonicNow(), absl::ZeroDuration());
      ms = static_cast<int>(absl::ToInt64Milliseconds(absl::Ceil(left, absl::Milliseconds(1))));
    }
    pollfd p{pidfd, POLLIN, 0};
    int r = ::poll(&p, 1, ms);
    if (r > 0) return true;
    if (r == 0) return false;
    if (errno != EINTR) return false;
  }
}

bool WaitPidExit(pid_t pid, absl::Duration timeout) {
  absl::StatusOr<UniqueFd> fd = PidfdOpen(pid);
  if (!fd.ok()) return absl::IsNotFound(fd.status());
  return PidfdWaitExit(fd->get(), timeout);
}

}  // namespace kdbg
