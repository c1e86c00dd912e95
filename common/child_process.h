// ChildProcess: one spawned program, with timed waits, graceful termination and guaranteed reaping.
//
// Spawn uses fork + exec with an O_CLOEXEC error pipe, so a failed exec (missing binary, EACCES)
// comes back from Spawn as an error instead of a child exiting 127. Waits use pidfd_open + poll.
//
// Thread safety: one thread at a time per object (callers serialise; the Delve engine owns its
// process on its session thread).
#pragma once

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/fd.h"

namespace kdbg {

struct SpawnOptions {
  // argv[0] is the program: a path, or a name looked up in $PATH.
  std::vector<std::string> argv;
  // Replaces the environment when set; otherwise the child inherits ours.
  std::optional<std::vector<std::string>> env;
  // Extra "KEY=VALUE" entries added to the (inherited or given) environment; each replaces an
  // entry of the same KEY there.
  std::vector<std::string> extra_env;
  std::string cwd;
  // Standard streams: stdin always /dev/null unless stdin_path is set. stdout/stderr go to the
  // given file (created, truncated, 0600) or /dev/null when empty, unless capture_stdout asks for a
  // pipe readable through stdout_fd(). Files, not pipes, for long-lived children: a child writing
  // to a pipe whose reader died gets SIGPIPE (see docs/delve-engine.md).
  std::string stdin_path;
  std::string stdout_path;
  std::string stderr_path;
  bool capture_stdout = false;
  bool append_output = false;  // stdout_path/stderr_path appended to, not truncated
  bool stderr_to_stdout = false;
  // setsid() in the child: it leaves our process group, so a terminal's Ctrl-C does not reach it.
  bool new_session = false;
  // PR_SET_PDEATHSIG in the child. Fires when the *thread* that called Spawn exits, so callers that
  // use it spawn from a long-lived thread.
  int parent_death_signal = 0;
  // cgroup.procs files (one per hierarchy) the child writes "0" to before exec, so it runs in
  // those cgroups rather than ours (agent/service/agent_cgroup.h: Delve and the guardian outside
  // the agent container's cgroup). A failed write fails the spawn with its errno.
  std::vector<std::string> join_cgroup_procs;
  // What the destructor does with a child still running: SIGTERM, wait `destroy_grace`, then
  // SIGKILL only if `sigkill_on_destroy`. Delve must never be SIGKILLed (it would leave int3s in
  // the target), so the Delve engine turns this off.
  absl::Duration destroy_grace = absl::Seconds(5);
  bool sigkill_on_destroy = true;
};

class ChildProcess {
 public:
  // Errors: InvalidArgument for an empty argv, NotFound / PermissionDenied when exec fails
  // (message names the program), Internal for fork/pipe failures.
  static absl::StatusOr<std::unique_ptr<ChildProcess>> Spawn(const SpawnOptions& options);

  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  // Read end of the stdout pipe when capture_stdout was set, else -1. Owned by this object.
  int stdout_fd() const { return stdout_.get(); }

  // True until the child has exited (and has been reaped by Wait/Poll).
  bool Running();
  // Waits up to `timeout` for the child to exit; returns the raw wait status (see WIFEXITED).
  // DeadlineExceeded if it is still running. Reaps the child.
  absl::StatusOr<int> Wait(absl::Duration timeout);
  // Sends `sig`; OK if the child already exited.
  absl::Status Signal(int sig);
  // SIGTERM, wait up to `grace`, then SIGKILL (if `kill_after_grace`) and reap. Returns the wait
  // status, or DeadlineExceeded if it is still alive and kill_after_grace is false.
  absl::StatusOr<int> Terminate(absl::Duration grace, bool kill_after_grace = true);
  // Gives up ownership: the destructor will neither signal nor reap (the child is left to init or
  // to whoever adopts it). Used when a child must outlive this object on purpose.
  void Release() { released_ = true; }

  // Reads everything from stdout_fd() until EOF or `timeout`; for short-lived helper programs.
  absl::StatusOr<std::string> ReadAllStdout(absl::Duration timeout);

  // Human-readable form of a wait status: "exit status 2", "killed by signal 9 (Killed)".
  static std::string DescribeWaitStatus(int wait_status);

 private:
  ChildProcess(pid_t pid, UniqueFd pidfd, UniqueFd stdout_fd, const SpawnOptions& options);
  bool TryReap();

  pid_t pid_;
  UniqueFd pidfd_;
  UniqueFd stdout_;
  std::optional<int> wait_status_;
  bool released_ = false;
  absl::Duration destroy_grace_;
  bool sigkill_on_destroy_;
};

// Runs a program to completion and returns its stdout (stderr merged when `merge_stderr`), with
// `extra_env` ("NAME=value") added to our environment. Non-zero exit is an Internal error quoting
// the output's last line. For short helper commands.
absl::StatusOr<std::string> RunCommand(const std::vector<std::string>& argv,
                                       absl::Duration timeout = absl::Seconds(30),
                                       bool merge_stderr = true,
                                       const std::vector<std::string>& extra_env = {});

}  // namespace kdbg
