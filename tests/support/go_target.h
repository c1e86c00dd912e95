// A built Go target (tests/targets) running as a plain child process of the test, serving HTTP on
// a free loopback port. Killed and reaped on destruction.
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

  pid_t pid() const { return target_pid_ > 0 ? target_pid_ : process_->pid(); }
  int port() const { return port_; }
  ChildProcess& process() { return *process_; }

 private:
  GoTarget(std::unique_ptr<ChildProcess> p, int port) : process_(std::move(p)), port_(port) {}
  static absl::StatusOr<std::unique_ptr<GoTarget>> StartWith(const std::string& name,
                                                             bool pid_namespace);
  std::unique_ptr<ChildProcess> process_;
  int port_;
  pid_t target_pid_ = 0;
};

}  // namespace kdbg::testing
