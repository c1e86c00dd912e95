// An in-process Agent gRPC server over mutual TLS with scripted behaviour, recording what it got.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/server.h"
#include "kdbg/v1/agent.grpc.pb.h"

namespace kdbg::controller::testing {

struct AgentScript {
  int hits = 1;               // HitEvents after the ArmedEvent
  bool end_by_itself = true;  // send EndedEvent and return; else wait for cancellation
  int32_t host_pid = 4242;
  int hit_interval_ms = 0;  // pause before each HitEvent (benchmarks: a steady rate)
  size_t hit_bytes = 0;     // each HitEvent carries this many bytes (in `function`)
  bool stop_fails = false;  // StopSession answers UNAVAILABLE and stops nothing
  // After the hits, Trace fails UNAVAILABLE without an EndedEvent, as the call does when the
  // agent's container is killed.
  bool die = false;
  // StopSession: the first `stop_unavailable` calls fail UNAVAILABLE (the agent restarting); then
  // it answers END_REASON_RECOVERED with recovered_message when set (the end the killed agent's
  // guardian recorded), else END_REASON_STOP_REQUESTED.
  int stop_unavailable = 0;
  std::string recovered_message;
  // After its EndedEvent the call stays open this long before it returns: the relay reads the end
  // well before the call is done, as under load.
  int linger_after_end_ms = 0;
  // After the hits, one event that is not a well-formed Event (its `hit` field's bytes are no
  // HitEvent), then the call waits for cancellation: an agent with a bug, or bytes corrupted.
  bool malformed_event = false;
};

// An agent killed mid-trace (its container): 2 hits, then the stream breaks (UNAVAILABLE, no
// EndedEvent); its restart refuses two StopSession calls, then answers the end its guardian
// recorded (RECOVERED, target running).
inline AgentScript KilledMidTrace() {
  AgentScript script;
  script.hits = 2;
  script.die = true;
  script.stop_unavailable = 2;
  script.recovered_message =
      "the agent's guardian recovered Delve pid 7 left by a previous agent: target running, "
      "detached (1 breakpoints cleared)";
  return script;
}

class FakeAgent final : public v1::Agent::Service {
 public:
  // Listens on `address` ("127.0.0.2:PORT") with mTLS credentials.
  FakeAgent(std::string node, const std::string& address,
            std::shared_ptr<grpc::ServerCredentials> creds);
  ~FakeAgent() override;
  bool ok() const { return server_ != nullptr; }

  void set_script(AgentScript s) {
    absl::MutexLock lock(&mu_);
    script_ = std::move(s);
  }
  std::vector<v1::TraceRequest> traces() {
    absl::MutexLock lock(&mu_);
    return traces_;
  }
  std::vector<std::string> stop_requests() {
    absl::MutexLock lock(&mu_);
    return stop_requests_;
  }
  std::vector<v1::AttachRequest> attaches() {
    absl::MutexLock lock(&mu_);
    return attaches_;
  }
  // UploadDebugBinary: the first message as received, bytes and chunk sizes after it, how it ended.
  struct Upload {
    v1::DebugBinaryChunk first;
    int64_t bytes = 0;
    size_t largest_chunk = 0;
    bool cancelled = false;
  };
  std::vector<Upload> uploads() {
    absl::MutexLock lock(&mu_);
    return uploads_;
  }
  int cancelled() const { return cancelled_.load(); }
  // Waits until at least `n` calls have been cancelled or `timeout` passes; returns cancelled().
  // The agent hears a cancellation a moment after the controller ends its side, so a test checks
  // the count through this, never right after the controller returns.
  int AwaitCancelled(int n, absl::Duration timeout) const;
  int calls() const { return calls_.load(); }
  int active() const { return active_.load(); }
  // HitEvents whose Write returned (gRPC took them: sent or within the flow-control window).
  int64_t hits_written() const { return hits_written_.load(); }

  // A debuggable target with the script's host_pid.
  grpc::Status Resolve(grpc::ServerContext* ctx, const v1::ResolveRequest* req,
                       v1::ResolvedTarget* resp) override;
  grpc::Status Trace(grpc::ServerContext* ctx, const v1::TraceRequest* req,
                     grpc::ServerWriter<v1::Event>* writer) override;
  grpc::Status Attach(grpc::ServerContext* ctx, const v1::AttachRequest* req,
                      grpc::ServerWriter<v1::Event>* writer) override;
  grpc::Status Tunnel(grpc::ServerContext* ctx,
                      grpc::ServerReaderWriter<v1::TunnelFrame, v1::TunnelFrame>* stream) override;
  grpc::Status UploadDebugBinary(grpc::ServerContext* ctx,
                                 grpc::ServerReader<v1::DebugBinaryChunk>* reader,
                                 v1::DebugBinaryUploaded* resp) override;
  grpc::Status ListSessions(grpc::ServerContext* ctx, const v1::ListSessionsRequest* req,
                            v1::ListSessionsResponse* resp) override;
  grpc::Status StopSession(grpc::ServerContext* ctx, const v1::StopSessionRequest* req,
                           v1::StopSessionResponse* resp) override;
  grpc::Status Version(grpc::ServerContext* ctx, const v1::VersionRequest* req,
                       v1::VersionInfo* resp) override;

 private:
  void WaitCancelled(grpc::ServerContext* ctx, const std::string& session_id);

  std::string node_;
  std::atomic<int64_t> hits_written_{0};
  absl::Mutex mu_;
  AgentScript script_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::TraceRequest> traces_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::AttachRequest> attaches_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::SessionInfo> sessions_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> stop_requests_ ABSL_GUARDED_BY(mu_);
  std::vector<Upload> uploads_ ABSL_GUARDED_BY(mu_);
  std::atomic<int> cancelled_{0};
  std::atomic<int> calls_{0};
  std::atomic<int> active_{0};
  std::unique_ptr<grpc::Server> server_;
};

}  // namespace kdbg::controller::testing
