// `kdbg-agent serve`: wires configuration, the engine, the session manager, the gRPC service over
// mutual TLS and the health endpoint; runs until SIGTERM/SIGINT, then ends every session safely.
#include "agent/service/serve_command.h"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/notification.h"
#include "agent/service/agent_config.h"
#include "agent/service/agent_service.h"
#include "agent/service/engine.h"
#include "agent/service/health_server.h"
#include "agent/service/metrics.h"
#include "agent/service/session_manager.h"
#include "common/child_process.h"
#include "common/clock.h"
#include "common/grpc_limits.h"
#include "common/log.h"
#include "common/pidfd.h"
#include "common/tls.h"
#include "grpcpp/grpcpp.h"

namespace kdbg::agent {
namespace {

// Starts `kdbg-agent guard --parent <us> <our serve args>` in its own session, output to a file in
// the state directory. Not fatal when it fails: a restarted agent still recovers.
void StartGuardian(const std::vector<std::string>& serve_args, const std::string& state_dir,
                   const std::vector<std::string>& outside_cgroup_procs) {
  char exe[4096];
  ssize_t n = ::readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  if (n <= 0) {
    log::Warning("no guardian: cannot read /proc/self/exe");
    return;
  }
  SpawnOptions o;
  o.argv = {std::string(exe, static_cast<size_t>(n)), "guard", "--parent",
            absl::StrCat(::getpid())};
  o.argv.insert(o.argv.end(), serve_args.begin(), serve_args.end());
  o.new_session = true;
  // Outside the container's cgroup: a kill of the whole container must not take it along.
  o.join_cgroup_procs = outside_cgroup_procs;
  o.stdout_path = state_dir + "/guard.log";
  o.append_output = true;  // what the previous guardian recovered stays readable
  o.stderr_to_stdout = true;
  absl::StatusOr<std::unique_ptr<ChildProcess>> child = ChildProcess::Spawn(o);
  if (!child.ok()) {
    log::Warning("no guardian", {{"error", std::string(child.status().message())}});
    return;
  }
  log::Info("guardian started", {{"guard_pid", static_cast<int>((*child)->pid())},
                                 {"outside_container_cgroup", !outside_cgroup_procs.empty()}});
  (*child)->Release();  // it must outlive us: that is its whole point
}

}  // namespace

int RunGuardCommand(const std::vector<std::string>& args) {
  pid_t parent = 0;
  if (args.size() < 2 || args[0] != "--parent" || !absl::SimpleAtoi(args[1], &parent) ||
      parent <= 0) {
    std::fprintf(stderr, "usage: kdbg-agent guard --parent PID SERVE-FLAGS...\n");
    return 2;
  }
  absl::StatusOr<AgentConfig> parsed =
      ParseAgentConfig(std::vector<std::string>(args.begin() + 2, args.end()));
  if (!parsed.ok()) {
    std::fprintf(stderr, "kdbg-agent guard: %s\n", std::string(parsed.status().message()).c_str());
    return 2;
  }
  log::Configure(log::Level::kInfo,
                 parsed->log_format == "json" ? log::Format::kJson : log::Format::kText);
  // Open the pidfd first: if the agent is already gone, pidfd_open fails and we recover at once.
  if (absl::StatusOr<UniqueFd> pidfd = PidfdOpen(parent); pidfd.ok()) {
    PidfdWaitExit(pidfd->get(), absl::InfiniteDuration());
  }
  absl::StatusOr<Engine> engine = MakeEngine(*parsed);
  if (!engine.ok()) {
    log::Error("guardian cannot build the engine",
               {{"error", std::string(engine.status().message())}});
    return 1;
  }
  int recovered = engine->recover ? engine->recover("the agent's guardian") : 0;
  log::Info("agent gone: guardian ended what it left",
            {{"agent_pid", static_cast<int>(parent)}, {"recovered", recovered}});
  return 0;
}

int RunServeCommand(const std::vector<std::string>& args) {
  absl::StatusOr<AgentConfig> parsed = ParseAgentConfig(args);
  if (!parsed.ok()) {
    std::fprintf(stderr, "kdbg-agent serve: %s\n", std::string(parsed.status().message()).c_str());
    return 2;
  }
  const AgentConfig& config = *parsed;
  if (config.help) {
    std::fputs(config.help_text.c_str(), stdout);
    return 0;
  }
  log::Level level = log::Level::kInfo;
  if (!log::ParseLevel(config.log_level, &level)) {
    std::fprintf(stderr, "kdbg-agent serve: --log-level must be debug, info, warning or error\n");
    return 2;
  }
  log::Configure(level, config.log_format == "json" ? log::Format::kJson : log::Format::kText);

  // SIGTERM/SIGINT are taken by sigwait on this thread only: block them before any thread starts.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  auto fail = [](const std::string& what, const absl::Status& st) {
    log::Error(what, {{"error", std::string(st.message())},
                      {"code", absl::StatusCodeToString(st.code())}});
    std::fprintf(stderr, "kdbg-agent serve: %s: %s\n", what.c_str(),
                 std::string(st.message()).c_str());
    return 1;
  };

  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> creds = tls::MakeServerCredentials(
      {config.tls_cert, config.tls_key, config.tls_ca}, config.allowed_clients);
  if (!creds.ok()) return fail("cannot load TLS files", creds.status());

  absl::StatusOr<Engine> engine = MakeEngine(config);
  if (!engine.ok()) return fail("cannot build the engine", engine.status());
  int recovered = engine->recover ? engine->recover("the restarted agent") : 0;
  log::Info("recovery done", {{"recovered", recovered}});
  if (config.guardian) StartGuardian(args, config.state_dir, engine->outside_cgroup_procs);

  // After recovery (no earlier Delve reads them any more): whatever uploads an earlier agent left
  // are deleted.
  int stale = 0;
  absl::StatusOr<std::unique_ptr<DebugBinaryStore>> debug_binaries = DebugBinaryStore::Open(
      {.dir = config.state_dir + "/debug-binaries", .inspect = engine->inspect_binary}, &stale);
  if (!debug_binaries.ok())
    return fail("cannot prepare the debug-binary directory", debug_binaries.status());
  log::Info("debug-binary directory ready",
            {{"dir", (*debug_binaries)->dir()}, {"stale_removed", stale}});

  AgentMetrics metrics;
  SessionManager::Options mo;
  mo.node_name = config.node_name;
  mo.max_sessions = config.max_sessions;
  mo.default_lease = config.lease_default;
  mo.max_lease = config.lease_max;
  mo.max_hits_per_second = config.max_hits_per_second;
  if (config.event_queue > 0) mo.event_queue_capacity = static_cast<size_t>(config.event_queue);
  mo.allow_host_pid = config.allow_host_pid;
  mo.debug_binaries = debug_binaries->get();
  SessionManager sessions(mo, engine->resolver.get(), engine->factory.get(), RealClock::Get(),
                          &metrics);

  AgentService::Options so;
  so.allowed_clients = config.allowed_clients;
  so.node_name = config.node_name;
  so.delve_version = engine->delve_version;
  so.allow_host_pid = config.allow_host_pid;
  so.debug_binaries = debug_binaries->get();
  so.ready = engine->ready;
  so.ebpf_problem = engine->ebpf_problem;
  so.list_functions = engine->list_functions;
  so.recovered_sessions = engine->recovered_dir;
  AgentService service(so, &sessions, engine->resolver.get(), &metrics);

  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(config.listen, *creds, &port);
  ApplyGrpcLimits(&builder);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    return fail("cannot serve gRPC", absl::UnavailableError(absl::StrCat(
                                         "cannot listen on ", config.listen,
                                         " (--listen): in use or not an address of this host")));
  }

  HealthServer health(&metrics, engine->ready, engine->ebpf_problem);
  if (!config.health_listen.empty()) {
    absl::StatusOr<int> hp = health.Start(config.health_listen);
    if (!hp.ok()) {
      server->Shutdown();
      return fail("cannot serve health", hp.status());
    }
  }

  absl::Notification stop_leases;
  std::thread lease_thread([&] {
    while (!stop_leases.WaitForNotificationWithTimeout(absl::Milliseconds(250))) {
      sessions.CheckLeases();
      (*debug_binaries)->ExpireUnclaimed();
    }
  });

  if (std::string ebpf = engine->ebpf_problem ? engine->ebpf_problem() : std::string();
      !ebpf.empty()) {
    log::Warning("eBPF engine unavailable on this node: trace sessions run on Delve",
                 {{"error", ebpf}});
  } else {
    log::Info("eBPF engine available (a test uprobe attached and detached)");
  }
  log::Info("agent serving", {{"listen", config.listen},
                              {"port", port},
                              {"node", config.node_name},
                              {"health", config.health_listen},
                              {"allowed_clients", absl::StrJoin(config.allowed_clients, ",")},
                              {"delve", engine->delve_version}});

  int sig = 0;
  sigwait(&stop_signals, &sig);
  log::Info("shutting down: ending every session",
            {{"signal", sig}, {"sessions", sessions.size()}});
  int left = sessions.Shutdown(kdbg::v1::END_REASON_AGENT_SHUTDOWN, config.shutdown_grace);
  if (left > 0) log::Error("sessions still ending at the shutdown deadline", {{"sessions", left}});
  // Let the streams deliver their EndedEvents, then cancel whatever remains.
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  stop_leases.Notify();
  lease_thread.join();
  health.Stop();
  log::Info("agent stopped", {{"sessions_left", left}});
  return left == 0 ? 0 : 1;
}

}  // namespace kdbg::agent
