// The agent's plain-HTTP health and metrics endpoint (cpp-httplib), for kubelet probes and
// Prometheus. Carries no secrets and takes no actions.
//
//   GET /healthz  200 "ok" while the process serves
//   GET /readyz   200 "ready" when `ready()` is OK, else 503 with its message
//   GET /metrics  200, Prometheus text format (AgentMetrics::RenderPrometheus)
//
// Thread-safe; Start() runs the server on its own thread, Stop() (or the destructor) ends it.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "agent/service/metrics.h"

namespace httplib {
class Server;
}

namespace kdbg::agent {

class HealthServer {
 public:
  // /readyz answers 200 "ready\n" when `ready` is OK, else 503 "not ready: MESSAGE\n". When
  // `ebpf_problem` (optional) returns text, the 200 body says so without failing readiness
  // (sessions then run on Delve): "ready; eBPF engine unavailable: TEXT\n".
  HealthServer(AgentMetrics* metrics, std::function<absl::Status()> ready,
               std::function<std::string()> ebpf_problem = nullptr);
  ~HealthServer();

  // Binds `host_port` ("127.0.0.2:7444"; port 0 picks one) and serves. Returns the bound port.
  // Errors: InvalidArgument (malformed address), Unavailable (cannot bind).
  absl::StatusOr<int> Start(const std::string& host_port);
  void Stop();

 private:
  AgentMetrics* const metrics_;
  std::function<absl::Status()> ready_;
  std::function<std::string()> ebpf_problem_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
};

// The service's part of the agent's readiness: `dlv` is an executable file and `proc_root` lists
// processes. `dlv` may list several Delve binaries, comma-separated (the bundled versions): each
// must be executable. The engine adds the ptrace check (engine.h, Engine::ready).
absl::Status CheckAgentReady(const std::string& dlv, const std::string& proc_root);

}  // namespace kdbg::agent
