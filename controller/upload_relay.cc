#include "controller/upload_relay.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace kdbg::controller {

UploadRelay::UploadRelay(v1::DebugBinaryUploaded* response, HeaderFn on_header,
                         std::function<void(const grpc::Status&)> on_finished)
    : response_(response), on_header_(std::move(on_header)), on_finished_(std::move(on_finished)) {
  server_.StartRead(&client_in_);
}

void UploadRelay::OnClientReadDone(bool ok) {
  bool first, stop;
  {
    absl::MutexLock lock(&mu_);
    first = !header_seen_;
    header_seen_ = true;
    stop = finish_called_ || agent_done_;
  }
  if (first) {
    if (!ok) {
      {
        absl::MutexLock lock(&mu_);
        setup_done_ = true;
      }
      FinishClient(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                "the upload sent no header (pod and size)"));
      return MaybeDestroy();
    }
    on_header_(this, client_in_);  // leads to StartAgent or Fail
    return;
  }
  if (stop) return ReleaseAgentHold();
  if (!ok) {
    // The CLI finished writing (or its call broke: then the agent finds the upload cut off, or is
    // cancelled by OnClientCancel; either way it deletes the partial file).
    bool cancelled;
    {
      absl::MutexLock lock(&mu_);
      cancelled = cancelled_;
    }
    if (!cancelled) agent_.StartWritesDone();
    return ReleaseAgentHold();
  }
  agent_out_.Clear();
  agent_out_.set_data(std::move(*client_in_.mutable_data()));
  agent_.StartWrite(&agent_out_);
}

void UploadRelay::OnAgentWriteDone(bool ok) {
  bool stop;
  {
    absl::MutexLock lock(&mu_);
    stop = !ok || finish_called_ || cancelled_;
  }
  if (stop) return ReleaseAgentHold();  // the agent's status arrives in OnAgentDone
  server_.StartRead(&client_in_);
}

void UploadRelay::OnAgentDone(const grpc::Status& status) {
  std::string label;
  {
    absl::MutexLock lock(&mu_);
    agent_done_ = true;
    label = agent_label_;
  }
  if (status.ok()) {
    *response_ = agent_response_;
    FinishClient(status);
  } else {
    switch (status.error_code()) {
      case grpc::StatusCode::UNAVAILABLE:
      case grpc::StatusCode::DEADLINE_EXCEEDED:
      case grpc::StatusCode::UNKNOWN:
      case grpc::StatusCode::INTERNAL:
        FinishClient(grpc::Status(status.error_code(),
                                  absl::StrCat("agent ", label, ": ", status.error_message())));
        break;
      default:  // the agent's own refusal (build ID, not Go, cut off, cap) says it all
        FinishClient(status);
    }
  }
  MaybeDestroy();
}

void UploadRelay::OnClientCancel() {
  bool started;
  {
    absl::MutexLock lock(&mu_);
    cancelled_ = true;
    started = agent_started_ && !agent_done_;
  }
  if (started) agent_ctx_.TryCancel();
  FinishClient(grpc::Status(grpc::StatusCode::CANCELLED, "the upload was cancelled by the client"));
}

void UploadRelay::OnClientDone() {
  {
    absl::MutexLock lock(&mu_);
    server_done_ = true;
  }
  MaybeDestroy();
}

void UploadRelay::Fail(const grpc::Status& status) {
  {
    absl::MutexLock lock(&mu_);
    setup_done_ = true;
  }
  FinishClient(status);
  MaybeDestroy();
}

void UploadRelay::StartAgent(const std::string& agent_label, v1::DebugBinaryChunk first,
                             const StartFn& start) {
  bool proceed;
  {
    absl::MutexLock lock(&mu_);
    setup_done_ = true;
    proceed = !finish_called_ && !cancelled_;
    if (proceed) {
      agent_started_ = true;
      agent_label_ = agent_label;
    }
  }
  if (!proceed) return MaybeDestroy();
  agent_out_ = std::move(first);
  start(&agent_ctx_, &agent_response_, &agent_);
  agent_.AddHold();
  agent_.StartWrite(&agent_out_);
  agent_.StartCall();
}

void UploadRelay::ReleaseAgentHold() {
  {
    absl::MutexLock lock(&mu_);
    if (!agent_started_ || hold_released_) return;
    hold_released_ = true;
  }
  agent_.RemoveHold();
}

void UploadRelay::FinishClient(const grpc::Status& status) {
  {
    absl::MutexLock lock(&mu_);
    if (finish_called_) return;
    finish_called_ = true;
    final_ = status;
  }
  server_.Finish(status);
}

void UploadRelay::MaybeDestroy() {
  grpc::Status final;
  {
    absl::MutexLock lock(&mu_);
    if (destroyed_ || !server_done_ || !setup_done_ || (agent_started_ && !agent_done_)) return;
    destroyed_ = true;
    final = final_;
  }
  if (on_finished_) on_finished_(final);
  delete this;
}

}  // namespace kdbg::controller
