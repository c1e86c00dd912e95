// The Agent gRPC service (proto/kdbg/v1/agent.proto) on the callback API.
//
// One reactor per call; no reaction blocks. Trace and Attach streams drain their session's
// EventStream; Tunnel pumps bytes through a StreamPump; Resolve runs the (blocking) resolver on a
// small worker pool; StopSession finishes when the session's safe end has finished.
//
// Every handler re-checks the caller's certificate identity (the server credentials' processor has
// already refused others before any handler runs; see common/tls.h) and records it in logs.
//
// Cancellation: a Trace/Attach call cancelled or broken (client gone, connection lost, deadline)
// ends its session with END_REASON_CLIENT_GONE at once (OnCancel); the reactor's resources are
// released in OnDone. A Tunnel cancelled closes its TCP connection.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "agent/resolver/resolver.h"
#include "agent/service/metrics.h"
#include "agent/service/session_manager.h"
#include "common/work_queue.h"
#include "kdbg/v1/agent.grpc.pb.h"

namespace kdbg::agent {

class AgentService final : public kdbg::v1::Agent::CallbackService {
 public:
  struct Options {
    std::vector<std::string> allowed_clients = {"kdbg-controller"};
    std::string node_name;
    std::string delve_version;
    int resolve_threads = 2;
    bool allow_host_pid = true;  // see SessionManager::Options::allow_host_pid
    // Where UploadDebugBinary stores files (the same store the SessionManager claims them from);
    // null: uploads are refused.
    DebugBinaryStore* debug_binaries = nullptr;
    // What Version reports: why the agent cannot debug (its readiness, CheckAgentReady) and why
    // the eBPF engine cannot run here (EbpfProblem); unset: nothing reported.
    std::function<absl::Status()> ready;
    std::function<std::string()> ebpf_problem;
    // ListFunctions: the functions of a resolved target's executable (Engine::list_functions);
    // null: the call is refused (UNIMPLEMENTED).
    std::function<absl::StatusOr<kdbg::v1::FunctionList>(const kdbg::v1::ResolvedTarget&,
                                                         const kdbg::v1::FunctionQuery&)>
        list_functions;
    // The directory of recovered sessions' ends (recovered_sessions.h): StopSession of a session
    // this agent does not run answers with its recorded end (reason END_REASON_RECOVERED), so
    // the controller learns how a killed agent's session ended. Empty: NOT_FOUND as for any
    // unknown session.
    std::string recovered_sessions;
  };
  AgentService(Options options, SessionManager* sessions, Resolver* resolver,
               AgentMetrics* metrics);
  ~AgentService() override;

  grpc::ServerUnaryReactor* Resolve(grpc::CallbackServerContext* ctx,
                                    const kdbg::v1::ResolveRequest* req,
                                    kdbg::v1::ResolvedTarget* resp) override;
  grpc::ServerWriteReactor<kdbg::v1::Event>* Trace(grpc::CallbackServerContext* ctx,
                                                   const kdbg::v1::TraceRequest* req) override;
  grpc::ServerWriteReactor<kdbg::v1::Event>* Attach(grpc::CallbackServerContext* ctx,
                                                    const kdbg::v1::AttachRequest* req) override;
  grpc::ServerBidiReactor<kdbg::v1::TunnelFrame, kdbg::v1::TunnelFrame>* Tunnel(
      grpc::CallbackServerContext* ctx) override;
  // The header is checked and the target resolved (its build ID) before any data is read; the
  // file is written as chunks arrive and checked (ELF, Go, DWARF, build ID) on the work pool.
  grpc::ServerReadReactor<kdbg::v1::DebugBinaryChunk>* UploadDebugBinary(
      grpc::CallbackServerContext* ctx, kdbg::v1::DebugBinaryUploaded* resp) override;
  grpc::ServerUnaryReactor* ListSessions(grpc::CallbackServerContext* ctx,
                                         const kdbg::v1::ListSessionsRequest* req,
                                         kdbg::v1::ListSessionsResponse* resp) override;
  grpc::ServerUnaryReactor* StopSession(grpc::CallbackServerContext* ctx,
                                        const kdbg::v1::StopSessionRequest* req,
                                        kdbg::v1::StopSessionResponse* resp) override;
  grpc::ServerUnaryReactor* Version(grpc::CallbackServerContext* ctx,
                                    const kdbg::v1::VersionRequest* req,
                                    kdbg::v1::VersionInfo* resp) override;
  // Resolves the target as Resolve does, lists its executable's functions (Options::
  // list_functions, on the work pool), then resolves again (a process replaced meanwhile is
  // refused, UNAVAILABLE). At most kMaxFunctionsPerCall per answer; `total` counts them all.
  grpc::ServerUnaryReactor* ListFunctions(grpc::CallbackServerContext* ctx,
                                          const kdbg::v1::ListFunctionsRequest* req,
                                          kdbg::v1::FunctionList* resp) override;
  static constexpr int64_t kMaxFunctionsPerCall = 20000;

 private:
  // OK with the caller's identity string, or the status to finish the call with.
  grpc::Status CheckCaller(grpc::CallbackServerContext* ctx, std::string* caller) const;
  // OK for a target named by container ID, or by bare host PID when --allow-host-pid; else
  // PERMISSION_DENIED saying so (Resolve, ListFunctions; sessions check in the SessionManager).
  grpc::Status CheckTargetKind(const kdbg::v1::TargetRef& target) const;
  grpc::ServerWriteReactor<kdbg::v1::Event>* StartSessionStream(grpc::CallbackServerContext* ctx,
                                                                SessionRequest request);

  const Options options_;
  SessionManager* const sessions_;
  Resolver* const resolver_;
  AgentMetrics* const metrics_;
  std::unique_ptr<WorkQueue> pool_;  // unary calls that block (the resolver reads /proc)
};

}  // namespace kdbg::agent
