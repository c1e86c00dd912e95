// A real `kdbg-agent serve` for integration tests: throwaway PKI, free loopback ports, its own
// state dir, JSON logs in a file; SIGTERM (never SIGKILL while Delve may be attached) on destroy.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/child_process.h"
#include "kdbg/v1/agent.grpc.pb.h"
#include "tests/support/certs/test_certs.h"

namespace kdbg::testing {

class AgentProcess {
 public:
  struct Options {
    int max_sessions = 4;
    std::string lease_default = "10m";
    std::string state_dir{};  // empty: a fresh one, removed with the agent (on success)
    int event_queue = 0;      // --event-queue (0: the agent's default)
  };
  static absl::StatusOr<std::unique_ptr<AgentProcess>> Start(TestPki* pki, const Options& options);
  ~AgentProcess();

  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  int health_port() const { return health_port_; }
  const std::string& state_dir() const { return state_dir_; }
  ChildProcess& process() { return *process_; }
  std::string Logs() const;
  // The guardian the agent started (its log's "guardian started" guard_pid), 0 if none. The
  // destructor waits for it to exit (bounded): it outlives the agent to recover its sessions.
  pid_t GuardianPid() const;
  // A stub authenticated with `cert` (nullptr: no client certificate), trusting `roots`' CA.
  std::unique_ptr<kdbg::v1::Agent::Stub> Stub(const CertFiles* cert, const TestPki* roots) const;

 private:
  AgentProcess() = default;
  std::unique_ptr<ChildProcess> process_;
  std::string dir_;
  std::string state_dir_;
  int port_ = 0;
  int health_port_ = 0;
};

}  // namespace kdbg::testing
