// Harness of the end-to-end suite: the sandbox's env file, the real `kdbg` CLI run in the
// foreground or the background, and the checks every session end must pass against the real target.
#pragma once

#include <sys/types.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/child_process.h"
#include "nlohmann/json.hpp"

namespace kdbg::e2e {

// $KDBG_SANDBOX_DIR/env parsed: `export KEY=VALUE` lines.
class Sandbox {
 public:
  static absl::StatusOr<Sandbox> Load();
  std::string Get(const std::string& key) const;
  const std::string& dir() const { return dir_; }
  // Environment for the CLI as the allowed user (KUBECONFIG, KDBG_CONTROLLER, ...).
  std::vector<std::string> CliEnv(bool denied_user = false) const;
  // Host PID of a pod's container from the runtime itself (`ctr task ls`), not from kdbg.
  absl::StatusOr<pid_t> ContainerPid(const std::string& ns, const std::string& pod,
                                     const std::string& container = "") const;
  // PID recorded for a sandbox daemon ("controller", "agent-node-a", ...).
  absl::StatusOr<pid_t> DaemonPid(const std::string& name) const;
  // Runs `scripts/sandbox up` again: restarts whatever died (it is idempotent).
  absl::Status Up() const;
  // Port of a URL like http://127.0.0.1:18080/.
  static int PortOf(const std::string& url);

 private:
  std::string dir_;
  std::map<std::string, std::string> vars_;
};

// A fresh path inside this test process's scratch directory, which is removed when the test
// program ends (a gtest global environment). `name` is a readable suffix.
std::string ScratchPath(const std::string& name);

struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs `kdbg ARGS` to completion with `env` added.
CommandResult RunKdbg(const Sandbox& sb, const std::vector<std::string>& args,
                      const std::vector<std::string>& env,
                      absl::Duration timeout = absl::Seconds(60));

// `kdbg ARGS` running in the background, its stdout read line by line.
class KdbgProcess {
 public:
  static absl::StatusOr<std::unique_ptr<KdbgProcess>> Start(const Sandbox& sb,
                                                            const std::vector<std::string>& args,
                                                            const std::vector<std::string>& env);
  // Next stdout line parsed as JSON, or nullopt on EOF/timeout.
  std::optional<nlohmann::json> NextJson(absl::Duration timeout);
  // Reads JSON lines until one has "type" == `type`; the lines skipped are kept in seen().
  std::optional<nlohmann::json> WaitFor(const std::string& type, absl::Duration timeout);
  const std::vector<nlohmann::json>& seen() const { return seen_; }
  void Signal(int sig);
  // Waits for exit; returns the exit code (128+signal when killed), -1 on timeout.
  int Wait(absl::Duration timeout);
  std::string Stderr() const;
  // Whether stderr contains `text` within `timeout` (checked every 100 ms).
  bool AwaitStderr(absl::string_view text, absl::Duration timeout) const;
  // Everything Wait() drained from stdout without parsing it (text-mode output).
  const std::string& raw_stdout() const { return raw_; }
  pid_t pid() const { return child_->pid(); }

 private:
  std::unique_ptr<ChildProcess> child_;
  std::string stderr_path_;
  std::string buffer_;
  std::string raw_;
  std::vector<nlohmann::json> seen_;
};

// The checks after every end: the target answers HTTP at `url`, is not stopped, TracerPid is 0, and
// no `dlv` names its PID. Empty string when all hold, else what failed.
std::string TargetReleased(pid_t pid, const std::string& url);

// Whether something accepts TCP connections on 127.0.0.1:`port` within `timeout` (a `kdbg attach
// --listen` port: each probe is a connection closed before its first byte, which the agent closes
// too and never counts as a debugger client).
bool WaitUntilListening(int port, absl::Duration timeout);

// What `dlv connect 127.0.0.1:PORT` (the bundled Delve) printed, stdout and stderr, with its
// commands read from the file `commands`, and how it ended: ChildProcess::DescribeWaitStatus
// ("exit status 0"), or why it could not run, be read (30 s) or be waited for (10 s).
struct DlvConnectRun {
  std::string out;
  std::string ended;
};
DlvConnectRun RunDlvConnect(int port, const std::string& commands,
                            const std::vector<std::string>& extra_env = {});

// Lines of the audit log that mention `needle`.
std::vector<nlohmann::json> AuditLines(const Sandbox& sb, const std::string& needle);

}  // namespace kdbg::e2e
