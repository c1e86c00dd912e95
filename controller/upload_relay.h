// UploadRelay: one `--debug-binary` upload, from the CLI's client stream on the controller to a
// client stream on the pod's agent, on gRPC's callback API (no thread per upload).
//
// Order: the CLI's first message (target + header) is read alone and handed to `on_header`, which
// authenticates, authorizes and checks the size cap on the work queue and then calls exactly one
// of StartAgent or Fail; no data message is read before that. Then one chunk at a time: read from
// the CLI, write to the agent, read the next once the agent's write completed (so at most one
// chunk, <= 1 MiB, is held here). The CLI's end of writes becomes the agent's WritesDone; the
// agent's answer (upload_id or refusal) becomes the CLI's.
//
// Ending: the CLI cancelling (Ctrl-C, killed, connection lost) cancels the agent call at once,
// which makes the agent delete the partial file. The object deletes itself once both calls are
// done and setup has called StartAgent or Fail, after `on_finished` (must not block).
#pragma once

#include <functional>
#include <string>

#include "absl/synchronization/mutex.h"
#include "grpcpp/client_context.h"
#include "grpcpp/support/client_callback.h"
#include "grpcpp/support/server_callback.h"
#include "kdbg/v1/agent.pb.h"
#include "kdbg/v1/controller.pb.h"

namespace kdbg::controller {

class UploadRelay {
 public:
  using StartFn = std::function<void(grpc::ClientContext*, v1::DebugBinaryUploaded*,
                                     grpc::ClientWriteReactor<v1::DebugBinaryChunk>*)>;
  using HeaderFn = std::function<void(UploadRelay*, const v1::ControllerDebugBinaryChunk&)>;

  // `response` is the CLI call's response message (filled from the agent's on success).
  UploadRelay(v1::DebugBinaryUploaded* response, HeaderFn on_header,
              std::function<void(const grpc::Status&)> on_finished);
  grpc::ServerReadReactor<v1::ControllerDebugBinaryChunk>* reactor() { return &server_; }

  // Setup refused the upload: the CLI gets `status`; nothing more is read.
  void Fail(const grpc::Status& status);
  // Setup accepted it: `start` must bind the reactor with
  // stub->async()->UploadDebugBinary(ctx, response, reactor). `first` (target, user, header,
  // max_size) is sent first. `agent_label` prefixes the agent's transport errors.
  void StartAgent(const std::string& agent_label, v1::DebugBinaryChunk first, const StartFn& start);

 private:
  class ServerSide : public grpc::ServerReadReactor<v1::ControllerDebugBinaryChunk> {
   public:
    explicit ServerSide(UploadRelay* r) : r_(r) {}
    void OnReadDone(bool ok) override { r_->OnClientReadDone(ok); }
    void OnCancel() override { r_->OnClientCancel(); }
    void OnDone() override { r_->OnClientDone(); }

   private:
    UploadRelay* r_;
  };
  class AgentSide : public grpc::ClientWriteReactor<v1::DebugBinaryChunk> {
   public:
    explicit AgentSide(UploadRelay* r) : r_(r) {}
    void OnWriteDone(bool ok) override { r_->OnAgentWriteDone(ok); }
    void OnWritesDoneDone(bool) override {}
    void OnDone(const grpc::Status& s) override { r_->OnAgentDone(s); }

   private:
    UploadRelay* r_;
  };

  void OnClientReadDone(bool ok);
  void OnClientCancel();
  void OnClientDone();
  void OnAgentWriteDone(bool ok);
  void OnAgentDone(const grpc::Status& status);
  // Finishes the CLI's call once; returns false if it was already finished.
  void FinishClient(const grpc::Status& status);
  void MaybeDestroy();
  // Lets the agent call complete (its OnDone waits for this): once no more writes will be issued.
  void ReleaseAgentHold();

  v1::DebugBinaryUploaded* const response_;
  HeaderFn on_header_;
  std::function<void(const grpc::Status&)> on_finished_;
  ServerSide server_{this};
  AgentSide agent_{this};
  grpc::ClientContext agent_ctx_;
  v1::ControllerDebugBinaryChunk client_in_;
  v1::DebugBinaryChunk agent_out_;
  v1::DebugBinaryUploaded agent_response_;

  absl::Mutex mu_;
  std::string agent_label_ ABSL_GUARDED_BY(mu_);
  bool header_seen_ ABSL_GUARDED_BY(mu_) = false;
  bool setup_done_ ABSL_GUARDED_BY(mu_) = false;
  bool agent_started_ ABSL_GUARDED_BY(mu_) = false;
  bool agent_done_ ABSL_GUARDED_BY(mu_) = false;
  bool hold_released_ ABSL_GUARDED_BY(mu_) = false;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  bool finish_called_ ABSL_GUARDED_BY(mu_) = false;
  bool server_done_ ABSL_GUARDED_BY(mu_) = false;
  bool destroyed_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status final_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kdbg::controller
