#include "cli/supervisor.h"

#include <signal.h>

#include "absl/strings/str_cat.h"
#include "cli/interrupts.h"
#include "common/clock.h"

namespace kdbg::cli::internal {

StreamSupervisor::StreamSupervisor(Connection& connection, grpc::ClientContext* stream_context,
                                   const CommandEnv& env, Console& console)
    : connection_(connection), stream_context_(stream_context), env_(env), console_(console) {}

StreamSupervisor::~StreamSupervisor() { Finish(); }

void StreamSupervisor::Start() {
  watcher_ = std::thread([this] { Watch(); });
}

void StreamSupervisor::SetSessionId(const std::string& id) {
  absl::MutexLock lock(&mu_);
  session_id_ = id;
}

std::string StreamSupervisor::session_id() {
  absl::MutexLock lock(&mu_);
  return session_id_;
}

void StreamSupervisor::IgnoreSigint(bool ignore) {
  absl::MutexLock lock(&mu_);
  ignore_sigint_ = ignore;
}

bool StreamSupervisor::forced() {
  absl::MutexLock lock(&mu_);
  return forced_;
}

bool StreamSupervisor::stop_requested() {
  absl::MutexLock lock(&mu_);
  return stop_requested_;
}

std::optional<kdbg::v1::EndedEvent> StreamSupervisor::stop_ended() {
  absl::MutexLock lock(&mu_);
  return stop_ended_;
}

void StreamSupervisor::RequestStop(const std::string& why) { BeginStop(why); }

void StreamSupervisor::BeginStop(const std::string& why) {
  std::string id;
  {
    absl::MutexLock lock(&mu_);
    if (stop_requested_ || done_) return;
    stop_requested_ = true;
    cancel_at_ = MonotonicNow() + env_.stop_grace;
    id = session_id_;
  }
  console_.Err(
      absl::StrCat("kdbg: ", why, ": ending the session safely (Ctrl-C again to quit at once)\n"));
  if (id.empty()) {
    // Nothing to name yet: cancelling is how the agent learns, and it ends the session safely.
    stream_context_->TryCancel();
    return;
  }
  stopper_ = std::thread([this, id] { CallStop(id); });
}

void StreamSupervisor::CallStop(std::string session_id) {
  kdbg::v1::ControllerStopSessionRequest req;
  req.set_session_id(session_id);
  kdbg::v1::ControllerStopSessionResponse resp;
  PrepareContext(&stop_context_, connection_.token, env_.stop_grace);
  grpc::Status status = connection_.stub->StopSession(&stop_context_, req, &resp);
  absl::MutexLock lock(&mu_);
  if (status.ok() && resp.has_ended()) stop_ended_ = resp.ended();
}

void StreamSupervisor::Watch() {
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (done_) return;
      if (MonotonicNow() >= cancel_at_) {
        cancel_at_ = absl::InfiniteFuture();
        stream_context_->TryCancel();
      }
    }
    int sig = WaitInterrupt(env_.interrupt_fd, absl::Milliseconds(100));
    if (sig == 0) continue;
    bool second;
    {
      absl::MutexLock lock(&mu_);
      if (sig == SIGINT && ignore_sigint_) continue;
      second = stop_requested_;
      if (second) forced_ = true;
    }
    if (second) {
      stream_context_->TryCancel();
      stop_context_.TryCancel();
      return;
    }
    BeginStop(sig == SIGTERM ? "terminated" : "interrupted");
  }
}

void StreamSupervisor::Finish() {
  {
    absl::MutexLock lock(&mu_);
    done_ = true;
  }
  if (watcher_.joinable()) watcher_.join();
  if (stopper_.joinable()) {
    // The stream is over; the stop's answer no longer matters unless it is nearly there.
    stopper_.join();
  }
}

}  // namespace kdbg::cli::internal
