// A built Go target (tests/targets) running as a plain child process of the test, serving HTTP on
// a free loopback port. Killed and reaped on destruction.
//
// Each target runs its own copy of the executable (removed on destruction), as each pod of a
// node runs its image's: the kernel keeps uprobes per file, and a uprobe at the same code of the
// same file in another test's process takes the int3 of a Delve breakpoint in this one (the
// kernel cannot tell the two apart: docs/troubleshooting.md). StartBinary runs a given file,
// for the tests about exactly that.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/child_process.h"

namespace kdbg::testing {

class GoTarget {
 public:
  // Starts targets/<name> with HELLO_ADDR=127.0.0.1:<free port> and waits until it answers HTTP.
  static absl::StatusOr<std::unique_ptr<GoTarget>> Start(const std::string& name);
  // The same as PID 1 of a new PID namespace, as in a container (`unshare --fork --pid
  // --kill-child=KILL`, needs CAP_SYS_ADMIN): pid() is the target's PID here, process() the
  // unshare, whose exit status is the target's (a target killed by a signal kills unshare with
  // it).
  static absl::StatusOr<std::unique_ptr<GoTarget>> StartInPidNamespace(const std::string& name);
  // Runs `path` itself (no copy): another process of the same file as a running target's
  // binary().
  static absl::StatusOr<std::unique_ptr<GoTarget>> StartBinary(const std::string& path);
  ~GoTarget();

  pid_t pid() const { return target_pid_ > 0 ? target_pid_ : process_->pid(); }
  int port() const { return port_; }
  ChildProcess& process() { return *process_; }
  // The executable this target runs: its private copy, or StartBinary's path.
  const std::string& binary() const { return binary_; }

 private:
  GoTarget(std::unique_ptr<ChildProcess> p, int port) : process_(std::move(p)), port_(port) {}
  // Runs `binary`; `copy_dir`, when not empty, holds it and is removed with the target.
  static absl::StatusOr<std::unique_ptr<GoTarget>> StartWith(const std::string& binary,
                                                             const std::string& copy_dir,
                                                             bool pid_namespace);
  static absl::StatusOr<std::unique_ptr<GoTarget>> StartCopy(const std::string& name,
                                                             bool pid_namespace);
  std::unique_ptr<ChildProcess> process_;
  int port_;
  std::string binary_;
  std::string copy_dir_;
  pid_t target_pid_ = 0;
};

}  // namespace kdbg::testing
