// StreamSupervisor: ends one session's event stream safely when the user asks.
//
// First Ctrl-C (or RequestStop): calls StopSession for the session (its `ended` event then arrives
// on the stream, and StopSession's answer carries it too); if the stream has not ended within
// `stop_grace`, cancels it (the agent sees the client gone and runs the same safe end). Before the
// session has an ID, the first Ctrl-C cancels at once. Second Ctrl-C: cancels at once and marks the
// run `forced`. All of it runs on the supervisor's own threads, never in a signal handler.
#pragma once

#include <optional>
#include <string>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "cli/command_util.h"

namespace kdbg::cli::internal {

class StreamSupervisor {
 public:
  StreamSupervisor(Connection& connection, grpc::ClientContext* stream_context,
                   const CommandEnv& env, Console& console);
  ~StreamSupervisor();  // Finish()

  void Start();
  void SetSessionId(const std::string& id);
  // The last session ID the stream named ("" before its first).
  std::string session_id();
  // As a first Ctrl-C, with `why` printed ("dlv exited").
  void RequestStop(const std::string& why);
  // While true, SIGINT is left to a foreground child (dlv); SIGTERM still stops.
  void IgnoreSigint(bool ignore);
  // The stream is over: stops the watcher and any StopSession call in flight; joins threads.
  void Finish();

  bool forced();
  bool stop_requested();
  std::optional<kdbg::v1::EndedEvent> stop_ended();

 private:
  void Watch();
  void BeginStop(const std::string& why);
  void CallStop(std::string session_id);

  Connection& connection_;
  grpc::ClientContext* stream_context_;
  const CommandEnv& env_;
  Console& console_;
  std::thread watcher_;
  std::thread stopper_;
  grpc::ClientContext stop_context_;

  absl::Mutex mu_;
  bool done_ = false;
  bool forced_ = false;
  bool stop_requested_ = false;
  bool ignore_sigint_ = false;
  absl::Time cancel_at_ = absl::InfiniteFuture();
  std::string session_id_;
  std::optional<kdbg::v1::EndedEvent> stop_ended_;
};

}  // namespace kdbg::cli::internal
