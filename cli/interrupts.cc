#include "cli/interrupts.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>

#include "common/status.h"

namespace kdbg::cli {
namespace {

std::atomic<int> g_write_fd{-1};

void OnSignal(int signo) {
  int saved = errno;
  int fd = g_write_fd.load();
  if (fd >= 0) {
    char b = static_cast<char>(signo);
    [[maybe_unused]] ssize_t n = ::write(fd, &b, 1);
  }
  errno = saved;
}

}  // namespace

absl::StatusOr<std::unique_ptr<InterruptPipe>> InterruptPipe::Install(
    const std::vector<int>& signals) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) return ErrnoToStatus(errno, "pipe2");
  UniqueFd r(fds[0]), w(fds[1]);
  g_write_fd.store(w.get());
  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  for (int s : signals) {
    if (::sigaction(s, &sa, nullptr) != 0) return ErrnoToStatus(errno, "sigaction");
  }
  ::signal(SIGPIPE, SIG_IGN);
  return std::unique_ptr<InterruptPipe>(new InterruptPipe(std::move(r), std::move(w)));
}

int WaitInterrupt(int fd, absl::Duration timeout) {
  if (fd < 0) {
    absl::SleepFor(timeout);
    return 0;
  }
  pollfd p{fd, POLLIN, 0};
  int r = ::poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(timeout)));
  if (r <= 0) return 0;
  unsigned char b = 0;
  if (::read(fd, &b, 1) != 1) return 0;
  return b == 0 ? 1 : b;
}

}  // namespace kdbg::cli
