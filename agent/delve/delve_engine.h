// The Delve session engine: kdbg's implementation of agent/delve/debug_session.h.
//
//   auto factory = kdbg::delve::NewDelveSessionFactory({.delves = {*ProbeDelve(".../v1.27.2/dlv")},
//                                                      .work_dir = "/var/lib/kdbg/delve"});
//   factory->RecoverOrphans();            // once at start-up: end what a previous agent left
//   auto session = factory->StartTrace(spec, on_event);
//
// How Delve is run: `dlv attach PID --headless --accept-multiclient --api-version=2
// --listen=unix:<work_dir>/<session>.sock`, in its own session (setsid), stdin /dev/null, stdout
// and stderr to files in work_dir (never pipes: Delve must not get SIGPIPE when the agent dies),
// with KDBG_DELVE_OWNER=<work_dir>, KDBG_SESSION_ID=<id> and KDBG_DELVE_PARENT=<agent pid> in its
// environment. Those variables are the durable record of the session: RecoverOrphans() finds every
// `dlv` carrying this work_dir's marker in /proc whose parent is no longer the agent that spawned
// it (a live agent's sessions are never touched), reads the target PID and address from its command
// line, and ends it by the safe sequence (safe_end.h).
//
// Why a Unix socket: Delve's API has no authentication, and whoever reaches it drives the target
// (read and write memory, call functions, stop it). On TCP loopback it was reachable by a
// `kubectl port-forward` into the agent pod (pods/portforward in kdbg-system, which the CLI's
// default way to the controller needs) and by any process of the node's UID 0 in that network
// namespace; Delve's own guard there (the connection's UID from /proc/net/tcp) fails on busy nodes
// (seen here above ~10,000 sockets) and then refuses the agent itself. A socket file in work_dir
// (mode 0700, the agent's) is reachable by root on the node and the agent only: port-forward
// carries TCP, and other users cannot enter the directory. Its path must fit a socket address
// (107 bytes: a session fails with FailedPrecondition naming --state-dir otherwise).
//
// If the agent process is killed (SIGKILL, OOM, crash): Delve is deliberately left running. By
// default no PR_SET_PDEATHSIG is set, because Delve's own SIGTERM path was seen to leave a stale
// SIGTRAP that killed 3 of 8 targets under load, while a Delve left alone only keeps the target
// frozen at its next tracepoint hit (with --accept-multiclient it waits for a client). The
// restarted agent (a DaemonSet restarts it within seconds) calls RecoverOrphans(), which connects,
// clears every breakpoint and detaches: the target resumes with no int3 left. Delve is never
// SIGKILLed while attached. Options.parent_death_signal can opt into SIGTERM-on-death instead.
//
// Thread safety: the factory is thread-safe; each session runs on its own thread (which spawns
// Delve, so a parent-death signal, if chosen, fires only when the session thread ends).
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "agent/delve/debug_session.h"
#include "agent/delve/delve_versions.h"
#include "agent/delve/rpc_connection.h"
#include "common/clock.h"
#include "common/proc_reader.h"

namespace kdbg::delve {

struct DelveOptions {
  // The bundled Delves (delve_versions.h): each session uses the newest that supports the target's
  // Go version (TraceSpec.go_version). Empty: dlv_path for every target, without a Go check.
  std::vector<DelveBinary> delves;
  std::string dlv_path = "dlv";
  // Delve's stdout/stderr per session ("<id>.dlv.log"), its socket ("<id>.sock") and config home
  // ("<id>.home"); also the owner marker used by recovery. Created with mode 0700.
  std::string work_dir = "/tmp/kdbg-delve";
  int default_hits_per_second = 100;                  // per tracepoint, when the spec asks for 0
  int max_hits_per_second = 1000;                     // upper bound on what a spec may ask
  absl::Duration attach_timeout = absl::Seconds(30);  // Delve start to first RPC reply
  absl::Duration call_timeout = absl::Seconds(10);
  absl::Duration halt_timeout = absl::Milliseconds(200);
  absl::Duration detach_timeout = absl::Seconds(5);  // Delve's exit after Detach
  Clock* clock = nullptr;                            // nullptr: RealClock
  // The /proc the resolver reads (the agent passes the same reader, so --proc-root applies to
  // both); nullptr: NewProcReader("/proc").
  std::shared_ptr<ProcReader> proc;
  std::shared_ptr<RpcDialer> dialer;  // nullptr: SocketRpcDialer
  int parent_death_signal = 0;        // see the header comment
  // cgroup.procs files each Delve joins before exec (SpawnOptions::join_cgroup_procs): the agent
  // puts Delve outside its own container's cgroup, so a container kill does not SIGKILL an
  // attached Delve (agent/service/agent_cgroup.h). Empty: Delve stays in the agent's cgroup.
  std::vector<std::string> join_cgroup_procs;
  // Delve counts each breakpoint's hits per goroutine in a map it never prunes
  // (proc.LogicalBreakpoint.HitCount) and copies whole into every stop reply (api.Breakpoint's
  // "hitCount": {"9":1,"17":1,...}). A service that starts a goroutine per connection or per RPC
  // grows it by one entry, ~11 bytes of JSON, per traced call: measured, a stop of the sample
  // service grew from 4 KB to 57 KB after 3,000 connections, and each stop took twice as long.
  // A trace session clears and recreates (renews) a tracepoint's breakpoint, while the target is
  // stopped anyway, once its map holds more goroutines than this (0: never). Tracepoints whose
  // conditions read hit counts (`cond -hitcount`, runtime.bphitcount) are never renewed: renewing
  // restarts Delve's counts.
  int renew_after_goroutines = 256;
  // How often a trace session checks, at a stop (the target stopped: every breakpoint's int3 is
  // then in place), that its breakpoints' int3s are still in the target's code. The kernel
  // removes one at code where another process of the same executable has a uprobe
  // (agent/ebpf/build_claims.h: kdbg's own eBPF sessions never do, another program's can); its
  // hits are lost from then on, and a notice says so. Zero: at every stop.
  absl::Duration int3_check_interval = absl::Seconds(1);
  // Attach mode: once every debugger client that connected has disconnected, a target left
  // stopped this long (a `dlv connect` quit without `-c` leaves it halted; a breakpoint a departed
  // client set stops it at its next hit) is resumed as by the stop limit (AttachSpec::max_stop):
  // every breakpoint kept, later stops continued at once until a client is back. Without it a
  // service with no liveness probe would wait, frozen, until the session ends.
  absl::Duration no_client_grace = absl::Seconds(2);
};

// What RecoverOrphans found and did, one per leftover Delve.
struct RecoveredSession {
  std::string session_id;  // from the Delve's KDBG_SESSION_ID
  pid_t dlv_pid = 0;
  pid_t target_pid = 0;
  kdbg::v1::EndedEvent ended;  // reason END_REASON_RECOVERED
};

class DelveSessionFactory : public kdbg::agent::DebugSessionFactory {
 public:
  // Finds Delve servers a previous agent with the same work_dir left behind and ends each by the
  // safe sequence. Blocks (about 100 ms per leftover plus Delve's exit). Call before serving.
  virtual std::vector<RecoveredSession> RecoverOrphans() = 0;
  virtual const DelveOptions& options() const = 0;
};

std::unique_ptr<DelveSessionFactory> NewDelveSessionFactory(DelveOptions options);

}  // namespace kdbg::delve
