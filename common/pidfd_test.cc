#include "common/pidfd.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gtest/gtest.h"

namespace kdbg {
namespace {

// A child that sleeps until killed; reaped by the test.
pid_t SpawnSleeper() {
  pid_t pid = ::fork();
  if (pid == 0) {
    ::pause();
    ::_exit(0);
  }
  return pid;
}

TEST(Pidfd, WaitsForAProcessToExit) {
  pid_t pid = SpawnSleeper();
  ASSERT_GT(pid, 0);
  auto fd = PidfdOpen(pid);
  ASSERT_TRUE(fd.ok()) << fd.status();
  EXPECT_FALSE(PidfdWaitExit(fd->get(), absl::Milliseconds(20)));
  EXPECT_FALSE(WaitPidExit(pid, absl::Milliseconds(20)));
  ::kill(pid, SIGKILL);
  EXPECT_TRUE(PidfdWaitExit(fd->get(), absl::Seconds(10)));
  EXPECT_TRUE(WaitPidExit(pid, absl::Seconds(10)));  // a zombie has exited too
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFSIGNALED(status));
}

TEST(Pidfd, AGoneProcessIsNotFoundAndCountsAsExited) {
  pid_t pid = SpawnSleeper();
  ASSERT_GT(pid, 0);
  ::kill(pid, SIGKILL);
  ASSERT_EQ(::waitpid(pid, nullptr, 0), pid);
  auto fd = PidfdOpen(pid);
  // The PID may in theory be reused at once; on this machine it is not.
  EXPECT_EQ(fd.status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(WaitPidExit(pid, absl::Milliseconds(10)));
}

}  // namespace
}  // namespace kdbg
