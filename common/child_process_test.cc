#include "common/child_process.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gtest/gtest.h"

namespace kdbg {
namespace {

// A shell that ignores SIGTERM, spawned and confirmed to have installed its trap.
std::unique_ptr<ChildProcess> SpawnTermIgnoringShell(bool sigkill_on_destroy) {
  SpawnOptions o;
  o.argv = {"sh", "-c", "trap '' TERM; echo ready; while :; do sleep 0.05; done"};
  o.capture_stdout = true;
  o.sigkill_on_destroy = sigkill_on_destroy;
  auto child = ChildProcess::Spawn(o);
  EXPECT_TRUE(child.ok()) << child.status();
  if (!child.ok()) return nullptr;
  char buf[6] = {};
  EXPECT_EQ(::read((*child)->stdout_fd(), buf, 6), 6);
  return std::move(*child);
}

TEST(ChildProcess, CapturesStdoutAndExitStatus) {
  SpawnOptions o;
  o.argv = {"sh", "-c", "echo hello; exit 3"};
  o.capture_stdout = true;
  auto child = ChildProcess::Spawn(o);
  ASSERT_TRUE(child.ok()) << child.status();
  auto out = (*child)->ReadAllStdout(absl::Seconds(10));
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(*out, "hello\n");
  auto st = (*child)->Wait(absl::Seconds(10));
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(ChildProcess::DescribeWaitStatus(*st), "exit status 3");
  EXPECT_FALSE((*child)->Running());
}

TEST(ChildProcess, ExecFailureIsAnErrorNotAChild) {
  SpawnOptions o;
  o.argv = {"/nonexistent/kdbg-no-such-program"};
  auto child = ChildProcess::Spawn(o);
  ASSERT_FALSE(child.ok());
  EXPECT_EQ(child.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(child.status().message().find("kdbg-no-such-program"), std::string::npos);
}

TEST(ChildProcess, WaitTimesOutThenTerminateEscalates) {
  // Ignores SIGTERM, so Terminate must escalate to SIGKILL after the grace period.
  auto child = SpawnTermIgnoringShell(true);
  ASSERT_NE(child, nullptr);
  EXPECT_EQ(child->Wait(absl::Milliseconds(50)).status().code(),
            absl::StatusCode::kDeadlineExceeded);
  auto st = child->Terminate(absl::Milliseconds(200));
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_TRUE(WIFSIGNALED(*st));
  EXPECT_EQ(WTERMSIG(*st), SIGKILL);
}

TEST(ChildProcess, TerminateWithoutKillLeavesStubbornChildRunning) {
  auto child = SpawnTermIgnoringShell(false);
  ASSERT_NE(child, nullptr);
  auto st = child->Terminate(absl::Milliseconds(100), /*kill_after_grace=*/false);
  EXPECT_EQ(st.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_TRUE(child->Running());
  ASSERT_TRUE(child->Signal(SIGKILL).ok());
  EXPECT_TRUE(child->Wait(absl::Seconds(5)).ok());
}

TEST(ChildProcess, DestructorReapsRunningChild) {
  pid_t pid;
  {
    SpawnOptions o;
    o.argv = {"sleep", "30"};
    o.destroy_grace = absl::Seconds(2);
    auto child = ChildProcess::Spawn(o);
    ASSERT_TRUE(child.ok());
    pid = (*child)->pid();
  }
  EXPECT_EQ(::kill(pid, 0), -1);  // gone and reaped: not even a zombie
}

TEST(ChildProcess, NewSessionDetachesFromProcessGroup) {
  SpawnOptions o;
  o.argv = {"sleep", "5"};
  o.new_session = true;
  auto child = ChildProcess::Spawn(o);
  ASSERT_TRUE(child.ok());
  EXPECT_EQ(::getsid((*child)->pid()), (*child)->pid());
}

TEST(RunCommand, ReportsFailureWithLastLine) {
  auto ok = RunCommand({"sh", "-c", "echo one; echo two"});
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(*ok, "one\ntwo\n");
  auto bad = RunCommand({"sh", "-c", "echo context; echo 'real reason' >&2; exit 1"});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("exit status 1): real reason"), std::string::npos)
      << bad.status();
}

TEST(RunCommand, ExtraEnvironmentReplacesAnInheritedEntry) {
  // Both C's getenv and Go's os.Getenv read the first of two entries: an extra one must replace.
  ASSERT_EQ(::setenv("KDBG_CHILD_TEST_VAR", "inherited", 1), 0);
  auto out = RunCommand({"sh", "-c", "env | grep '^KDBG_CHILD_TEST_VAR='"}, absl::Seconds(10), true,
                        {"KDBG_CHILD_TEST_VAR=extra"});
  ::unsetenv("KDBG_CHILD_TEST_VAR");
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(*out, "KDBG_CHILD_TEST_VAR=extra\n");
}

}  // namespace
}  // namespace kdbg
