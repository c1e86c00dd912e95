#include "agent/service/agent_service.h"

#include <functional>
#include <optional>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "agent/delve/hit_event_pool.h"
#include "agent/service/debug_protocol.h"
#include "agent/service/recovered_sessions.h"
#include "agent/service/stream_pump.h"
#include "common/clock.h"
#include "common/grpc_status.h"
#include "common/log.h"
#include "common/tls.h"

namespace kdbg::agent {

namespace {

// A stream refused before it started: finishes at once, deletes itself when done.
class RefusedWriter final : public grpc::ServerWriteReactor<kdbg::v1::Event> {
 public:
  explicit RefusedWriter(const grpc::Status& status) { Finish(status); }
  void OnDone() override { delete this; }
};

// Drains one session's EventStream into a server stream (Trace or Attach).
class SessionStreamReactor final : public grpc::ServerWriteReactor<kdbg::v1::Event>,
                                   public std::enable_shared_from_this<SessionStreamReactor> {
 public:
  explicit SessionStreamReactor(std::shared_ptr<Session> session)
      : session_(std::move(session)),
        stream_(session_->stream()),
        batch_(session_->request().options.batch_events()) {}

  // Called once, right after construction, from the handler.
  void Begin(std::shared_ptr<SessionStreamReactor> self) {
    self_ = std::move(self);
    std::weak_ptr<SessionStreamReactor> weak = self_;
    stream_->SetWakeup([weak] {
      if (auto r = weak.lock()) r->MaybeWrite();
    });
    MaybeWrite();
  }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      // The write failed: the call is broken (client gone). End the session safely and finish.
      session_->RequestEnd(kdbg::v1::END_REASON_CLIENT_GONE);
      {
        absl::MutexLock lock(&mu_);
        writing_ = false;
        if (finished_) return;
        finished_ = true;
      }
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "the client went away"));
      return;
    }
    kdbg::v1::Event written;
    {
      absl::MutexLock lock(&mu_);
      written = std::move(current_);
      writing_ = false;
    }
    // Its hits go back to the engine that filled them (the eBPF engine's: hit_event_pool.h).
    HitEventPool::Shared().GiveHits(std::move(written));
    MaybeWrite();
  }

  void OnCancel() override {
    log::Info("session stream cancelled", {{"session", session_->id()}});
    session_->RequestEnd(kdbg::v1::END_REASON_CLIENT_GONE);
    {
      absl::MutexLock lock(&mu_);
      if (finished_ || writing_) return;  // a pending write will fail and finish
      finished_ = true;
    }
    Finish(grpc::Status(grpc::StatusCode::CANCELLED, "cancelled by the client"));
  }

  void OnDone() override {
    stream_->SetWakeup(nullptr);
    auto keep = std::move(self_);  // may delete this on return
  }

 private:
  void MaybeWrite() {
    EventStream::Item item;
    {
      absl::MutexLock lock(&mu_);
      if (writing_ || finished_) return;
      // Hits that queued while the last write was in flight go out as one message.
      item = batch_ ? stream_->PopBatch(kMaxBatch, kMaxBatchBytes) : stream_->Pop();
      if (item.kind == EventStream::Item::Kind::kEmpty) return;
      if (item.kind == EventStream::Item::Kind::kFinish) {
        finished_ = true;
      } else {
        writing_ = true;
        current_ = std::move(item.event);
      }
    }
    // gRPC may run reactions inline from these calls: no lock held here.
    if (item.kind == EventStream::Item::Kind::kFinish) {
      Finish(item.status);
    } else {
      StartWrite(&current_);
    }
  }

  // Hits per message: the eBPF engine hands on up to 2,048 at a time (hand_off_pacer.h), a
  // busy tracepoint's ~1,000 (~250 KB) every 50 ms. The bytes bound keeps a message well below
  // the 4 MiB one may carry (common/grpc_limits.h) whatever its hits hold (Delve's carry
  // arguments and stacks), and the controller's memory per stream bounded: it buffers up to
  // --max-buffered-events (64) messages for a slow CLI, 16 MiB at this size.
  static constexpr size_t kMaxBatch = 2048;
  static constexpr size_t kMaxBatchBytes = 256 << 10;

  const std::shared_ptr<Session> session_;
  const std::shared_ptr<EventStream> stream_;
  const bool batch_;  // the caller takes Event.batch (TraceOptions.batch_events)
  std::shared_ptr<SessionStreamReactor> self_;
  absl::Mutex mu_;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  kdbg::v1::Event current_;
};

// One TCP connection to an attach session's Delve server, carried as TunnelFrames.
class TunnelReactor final
    : public grpc::ServerBidiReactor<kdbg::v1::TunnelFrame, kdbg::v1::TunnelFrame>,
      public std::enable_shared_from_this<TunnelReactor> {
 public:
  TunnelReactor(SessionManager* sessions, std::string caller)
      : sessions_(sessions), caller_(std::move(caller)) {}

  void Begin(std::shared_ptr<TunnelReactor> self) {
    self_ = std::move(self);
    StartRead(&in_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      // The client finished writing (WritesDone) or the call broke: half-close toward Delve.
      std::shared_ptr<StreamPump> pump;
      {
        absl::MutexLock lock(&mu_);
        pump = pump_;
      }
      if (pump != nullptr) {
        if (!EndIfTheClientNeverSpoke(pump)) pump->CloseWrite();
      } else {
        FinishOnce(
            grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                         "the tunnel's first frame must name an attach session (session_id)"));
      }
      return;
    }
    std::shared_ptr<StreamPump> pump;
    {
      absl::MutexLock lock(&mu_);
      pump = pump_;
    }
    if (pump == nullptr) {
      grpc::Status st = Open(in_.session_id());
      if (!st.ok()) return FinishOnce(st);
      absl::MutexLock lock(&mu_);
      pump = pump_;
    }
    if (in_.close_write()) {
      if (in_.data().empty()) {
        if (EndIfTheClientNeverSpoke(pump)) return;
      } else {
        std::optional<std::string> data =
            FromClient(std::move(*in_.mutable_data()), /*close_write=*/true);
        if (!data) return;  // held: SendHeld sends them, then half-closes
        if (!data->empty()) pump->Send(*data);
      }
      pump->CloseWrite();
      return;  // nothing more to read from a client that half-closed
    }
    // Paused before Send: if Send finds the buffer full, on_send_space (ResumeRead) may fire on the
    // pump's thread before Send even returns, and must find the flag set.
    {
      absl::MutexLock lock(&mu_);
      read_paused_ = true;
    }
    std::optional<std::string> data =
        FromClient(std::move(*in_.mutable_data()), /*close_write=*/false);
    if (!data) return;  // held, the read paused: SendHeld sends them and resumes it
    bool room = data->empty() || pump->Send(*data);
    if (room) {
      {
        absl::MutexLock lock(&mu_);
        if (!read_paused_) return;  // already resumed
        read_paused_ = false;
      }
      StartRead(&in_);
    }
  }

  void OnWriteDone(bool ok) override {
    {
      absl::MutexLock lock(&mu_);
      writing_ = false;
    }
    if (!ok) {
      Abort("the client went away");
      return FinishOnce(grpc::Status(grpc::StatusCode::CANCELLED, "the client went away"));
    }
    MaybeWrite();
  }

  void OnCancel() override {
    Abort("tunnel cancelled by the client");
    // With no write in flight nothing else would finish the call.
    bool idle;
    {
      absl::MutexLock lock(&mu_);
      idle = !writing_;
    }
    if (idle)
      FinishOnce(grpc::Status(grpc::StatusCode::CANCELLED, "tunnel cancelled by the client"));
  }

  void OnDone() override {
    Abort("tunnel call done");
    std::shared_ptr<Session> session;
    int listener;
    {
      absl::MutexLock lock(&mu_);
      session = session_.lock();
      listener = listener_;
    }
    if (session != nullptr && listener != 0) session->RemoveStopLimitListener(listener);
    auto keep = std::move(self_);
  }

  // The session resumed a stop past its limit: the client is told between two messages
  // (debug_protocol.h), now if it can be.
  void TellClient(const std::string& text) {
    bool now;
    {
      absl::MutexLock lock(&mu_);
      if (finished_) return;
      std::string bytes = filter_.Notify(text);
      now = !bytes.empty();
      injected_ += bytes;
      log::Info("tunnel: stop-limit notice for the remote client",
                {{"protocol", DebugProtocolName(filter_.protocol())},
                 {"delivery", now ? "sent" : "at its next message boundary or request"}});
    }
    if (now) MaybeWrite();
  }

 private:
  grpc::Status Open(const std::string& session_id) {
    if (session_id.empty()) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "the tunnel's first frame must name an attach session (session_id)");
    }
    std::shared_ptr<Session> s = sessions_->Find(session_id);
    if (s == nullptr) {
      return grpc::Status(
          grpc::StatusCode::NOT_FOUND,
          absl::StrCat("no session ", session_id, " on this node (it may have ended)"));
    }
    if (s->mode() != kdbg::v1::SESSION_MODE_ATTACH) {
      return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                          absl::StrCat("session ", session_id,
                                       " is a trace session; tunnels need an attach session"));
    }
    std::string address = s->delve_address();
    if (address.empty()) {
      return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                          absl::StrCat("session ", session_id,
                                       " is not attached yet; wait for its \"ready\" notice"));
    }
    std::weak_ptr<TunnelReactor> weak = shared_from_this();
    StreamPump::Callbacks cb;
    cb.on_data = [weak] {
      if (auto r = weak.lock()) r->MaybeWrite();
    };
    cb.on_send_space = [weak] {
      if (auto r = weak.lock()) r->ResumeRead();
    };
    auto pump = StreamPump::Start(address, std::move(cb));
    {
      absl::MutexLock lock(&mu_);
      pump_ = pump;
      session_ = s;
    }
    int listener = s->AddStopLimitListener([weak](const std::string& text) {
      if (auto r = weak.lock()) r->TellClient(text);
    });
    {
      absl::MutexLock lock(&mu_);
      listener_ = listener;
    }
    std::weak_ptr<StreamPump> weak_pump = pump;
    if (!s->AddCloser([weak_pump] {
          if (auto p = weak_pump.lock()) p->Abort("the debug session ended");
        })) {
      pump->Abort("the debug session ended");
    }
    log::Info("tunnel opened", {{"session", session_id}, {"caller", caller_}, {"delve", address}});
    return grpc::Status::OK;
  }

  // The client's bytes through the filter (debug_protocol.h), which may answer a request itself
  // (a stop-limit notice, a refused kill, a Detach): its replies go to the client, the request
  // nowhere. A Detach the filter answered ends the session. Returns the bytes for Delve; the
  // session hears of the client's activity (any byte) before they are sent, and may hold them
  // (Session::NoteClientActivity): then nullopt, and SendHeld sends them (half-closing after them
  // when `close_write`) once the session is ready for them.
  std::optional<std::string> FromClient(std::string data, bool close_write) {
    const bool spoke = !data.empty();
    std::shared_ptr<Session> session;
    bool replied;
    bool refused_kill;
    bool detached;
    DebugProtocol protocol;
    {
      absl::MutexLock lock(&mu_);
      session = session_.lock();
      const int refused_before = filter_.refused_kills();
      const int detached_before = filter_.detaches();
      filter_.FromClient(&data);
      data.insert(0, filter_.TakeForDelve());
      std::string replies = filter_.TakeReplies();
      replied = !replies.empty();
      injected_ += replies;
      refused_kill = filter_.refused_kills() > refused_before;
      detached = filter_.detaches() > detached_before;
      protocol = filter_.protocol();
    }
    std::optional<std::string> for_delve;  // nullopt: held
    if (session == nullptr || !spoke) {
      for_delve = std::move(data);
    } else {
      {
        // Held first: `ready` may run on the engine's thread as soon as the session has it.
        absl::MutexLock lock(&mu_);
        held_ = std::move(data);
        held_close_write_ = close_write;
        holding_ = true;
      }
      std::weak_ptr<TunnelReactor> weak = shared_from_this();
      if (session->NoteClientActivity([weak] {
            if (auto r = weak.lock()) r->SendHeld();
          })) {
        absl::MutexLock lock(&mu_);
        for_delve = std::exchange(held_, {});
        holding_ = false;
      } else {
        log::Info("tunnel: the client's request waits for the session",
                  {{"session", session->id()}, {"caller", caller_}});
      }
    }
    const std::string session_id = session != nullptr ? session->id() : std::string();
    if (refused_kill) {
      log::Warning("tunnel: refused a debugger client's request to kill the target",
                   {{"session", session_id},
                    {"caller", caller_},
                    {"protocol", DebugProtocolName(protocol)}});
      if (session != nullptr) {
        session->TellUser(kdbg::v1::NOTICE_KIND_KILL_REFUSED, KillRefusedNotice(protocol));
      }
    }
    // The answer to the client's Detach goes first: the session's end closes this tunnel after
    // whatever is being written (MaybeWrite sends injected_ before the pump's end).
    if (replied) MaybeWrite();
    if (detached && session != nullptr) {
      log::Info("tunnel: the debugger client detached Delve; ending the session",
                {{"session", session_id}, {"caller", caller_}});
      session->RequestEnd(kdbg::v1::END_REASON_REMOTE_CLIENT_LEFT);
    }
    return for_delve;
  }

  // The session is ready for the bytes FromClient held: to Delve, then the read resumes (or the
  // write half closes, as the client asked).
  void SendHeld() {
    std::shared_ptr<StreamPump> pump;
    std::string data;
    bool close_write;
    {
      absl::MutexLock lock(&mu_);
      if (!holding_) return;
      holding_ = false;
      data = std::exchange(held_, {});
      close_write = held_close_write_;
      pump = pump_;
    }
    if (pump == nullptr) return;
    const bool room = data.empty() || pump->Send(data);
    if (close_write) {
      pump->CloseWrite();
      return;
    }
    if (room) ResumeRead();  // otherwise on_send_space resumes it
  }

  // A client that closes before its first byte (a port check: `nc -z`, bash's /dev/tcp) will never
  // speak, and Delve never speaks first: Delve 1.27 even leaves such a connection open
  // (rpccommon's serveConnectionDemux returns on its failed Peek without closing it). Left open,
  // the tunnel would count as a connected client for good, and a target the last real client
  // left stopped would never be resumed (DebugSession::NoteClientConnections). Ends the tunnel
  // (OK) and returns true in that case.
  bool EndIfTheClientNeverSpoke(const std::shared_ptr<StreamPump>& pump) {
    {
      absl::MutexLock lock(&mu_);
      if (finished_ || filter_.protocol() != DebugProtocol::kUndecided) return false;
      finished_ = true;
    }
    pump->Abort("the client closed without sending a byte");
    Finish(grpc::Status::OK);
    return true;
  }

  void ResumeRead() {
    {
      absl::MutexLock lock(&mu_);
      if (!read_paused_ || finished_ || holding_) return;
      read_paused_ = false;
    }
    StartRead(&in_);
  }

  void MaybeWrite() {
    std::shared_ptr<StreamPump> pump;
    std::string to_delve;
    bool finish = false;
    {
      absl::MutexLock lock(&mu_);
      if (writing_ || finished_ || pump_ == nullptr) return;
      pump = pump_;
      if (!injected_.empty()) {
        // Made here (debug_protocol.h), at a message boundary: due before anything later from
        // Delve.
        writing_ = true;
        out_.Clear();
        out_.set_data(std::exchange(injected_, {}));
      } else {
        StreamPump::Chunk c = pump->Take();
        if (c.empty) return;
        if (!c.data.empty()) {
          filter_.FromDelve(&c.data);
          to_delve = filter_.TakeForDelve();
        }
        if (c.error || c.done) {
          finished_ = true;
          finish = true;
          final_ = c.error ? grpc::Status(grpc::StatusCode::UNAVAILABLE, c.message, kAnsweredByKdbg)
                           : grpc::Status::OK;
        } else {
          writing_ = true;
          out_.Clear();
          out_.set_data(std::move(c.data));
          out_.set_close_write(c.eof);
        }
      }
    }
    if (!to_delve.empty()) pump->Send(to_delve);
    if (finish) {
      Finish(final_);
    } else {
      StartWrite(&out_);
    }
  }

  void FinishOnce(const grpc::Status& status) {
    {
      absl::MutexLock lock(&mu_);
      if (finished_) return;
      finished_ = true;
    }
    Finish(status);
  }

  void Abort(const std::string& why) {
    std::shared_ptr<StreamPump> pump;
    {
      absl::MutexLock lock(&mu_);
      pump = pump_;
    }
    if (pump != nullptr) pump->Abort(why);
  }

  SessionManager* const sessions_;
  const std::string caller_;
  std::shared_ptr<TunnelReactor> self_;
  absl::Mutex mu_;
  std::shared_ptr<StreamPump> pump_ ABSL_GUARDED_BY(mu_);
  // The attach session the tunnel serves: told of every request the client sends (its stop limit
  // halts a target the agent resumed once the client is back, delve_session.h).
  std::weak_ptr<Session> session_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  bool read_paused_ ABSL_GUARDED_BY(mu_) = false;
  // The debugger protocol on this connection, and what kdbg says to the client in it.
  DebugTunnelFilter filter_ ABSL_GUARDED_BY(mu_);
  std::string injected_ ABSL_GUARDED_BY(mu_);  // for the client, made by filter_, not sent yet
  // The client's bytes for Delve the session holds (FromClient, SendHeld); the read is paused.
  bool holding_ ABSL_GUARDED_BY(mu_) = false;
  std::string held_ ABSL_GUARDED_BY(mu_);
  bool held_close_write_ ABSL_GUARDED_BY(mu_) = false;
  int listener_ ABSL_GUARDED_BY(mu_) = 0;  // Session::AddStopLimitListener's id
  grpc::Status final_;
  kdbg::v1::TunnelFrame in_;
  kdbg::v1::TunnelFrame out_;
};

// Receives one `--debug-binary` upload: header (target, user, size, cap), then data chunks.
class UploadReactor final : public grpc::ServerReadReactor<kdbg::v1::DebugBinaryChunk>,
                            public std::enable_shared_from_this<UploadReactor> {
 public:
  UploadReactor(DebugBinaryStore* store, Resolver* resolver, WorkQueue* pool, bool allow_host_pid,
                std::string caller, kdbg::v1::DebugBinaryUploaded* resp)
      : store_(store),
        resolver_(resolver),
        pool_(pool),
        allow_host_pid_(allow_host_pid),
        caller_(std::move(caller)),
        resp_(resp) {}

  void Begin(std::shared_ptr<UploadReactor> self) {
    self_ = std::move(self);
    StartRead(&in_);
  }

  void OnReadDone(bool ok) override {
    if (!header_seen_) {
      header_seen_ = true;
      if (!ok) {
        return FinishOnce(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                       "the upload sent no header (target and size)"));
      }
      return Header();
    }
    if (!ok) {
      // The client half-closed (all sent) or the call broke; OnCancel handles the latter.
      {
        absl::MutexLock lock(&mu_);
        if (finished_) return;
      }
      std::shared_ptr<UploadReactor> self = shared_from_this();
      pool_->Post([self] { self->Commit(); });
      return;
    }
    absl::Status st = upload_->Append(in_.data());
    if (!st.ok()) return FinishOnce(ToGrpcStatus(st));
    StartRead(&in_);
  }

  void OnCancel() override {
    log::Info("debug binary upload cancelled", {{"caller", caller_}});
    FinishOnce(grpc::Status(grpc::StatusCode::CANCELLED, "the upload was cancelled"));
  }

  void OnDone() override {
    auto keep = std::move(self_);  // the last reference may go with a pool task; upload_ then
                                   // deletes an uncommitted file
  }

 private:
  void Header() {
    const kdbg::v1::DebugBinaryChunk& h = in_;
    if (store_ == nullptr) {
      return FinishOnce(grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                                     "this agent takes no debug binaries"));
    }
    if (h.target().container_id().empty() && (h.target().host_pid() <= 0 || !allow_host_pid_)) {
      return FinishOnce(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                     "the upload's header names no target container"));
    }
    target_ = h.target();
    header_ = h.header();
    max_size_ = h.max_size();
    owner_ = DebugBinaryStore::Owner{h.user(), DebugBinaryTargetKey(h.target())};
    // The target's build ID first (the resolver blocks): a missing target refuses the upload
    // before any byte is stored.
    std::shared_ptr<UploadReactor> self = shared_from_this();
    pool_->Post([self] { self->ResolveAndOpen(); });
  }

  void ResolveAndOpen() {
    absl::StatusOr<kdbg::v1::ResolvedTarget> t = resolver_->Resolve(target_);
    if (!t.ok()) return FinishOnce(ToGrpcStatus(t.status()));
    if (!t->debuggable() && !t->needs_debug_binary()) {
      // A debug binary cannot help (not Go, Go version, ptrace...): say so before any byte moves.
      return FinishOnce(grpc::Status(
          grpc::StatusCode::FAILED_PRECONDITION,
          absl::StrCat("pid ", t->host_pid(),
                       " cannot be debugged, with or without a debug binary: ", t->problem())));
    }
    target_build_id_ = t->binary().build_id();
    target_desc_ = absl::StrCat("pid ", t->host_pid(), " (", t->binary().path(), ")");
    absl::StatusOr<std::unique_ptr<DebugBinaryStore::Upload>> u =
        store_->Begin(header_, max_size_, owner_);
    if (!u.ok()) return FinishOnce(ToGrpcStatus(u.status()));
    {
      absl::MutexLock lock(&mu_);
      if (finished_) return;  // cancelled meanwhile: `u` goes, and its file with it
      upload_ = *std::move(u);
    }
    StartRead(&in_);
  }

  void Commit() {
    absl::StatusOr<kdbg::v1::DebugBinaryUploaded> r =
        upload_->Commit(target_build_id_, target_desc_);
    log::Info("debug binary upload",
              {{"caller", caller_},
               {"user", owner_.user},
               {"target", owner_.target},
               {"file", header_.file_name()},
               {"result", r.ok() ? std::string("ok") : r.status().ToString()}});
    if (!r.ok()) return FinishOnce(ToGrpcStatus(r.status()));
    *resp_ = *r;
    FinishOnce(grpc::Status::OK);
  }

  void FinishOnce(const grpc::Status& status) {
    {
      absl::MutexLock lock(&mu_);
      if (finished_) return;
      finished_ = true;
    }
    Finish(status);
  }

  DebugBinaryStore* const store_;
  Resolver* const resolver_;
  WorkQueue* const pool_;
  const bool allow_host_pid_;
  const std::string caller_;
  kdbg::v1::DebugBinaryUploaded* const resp_;
  std::shared_ptr<UploadReactor> self_;
  kdbg::v1::DebugBinaryChunk in_;
  bool header_seen_ = false;
  kdbg::v1::TargetRef target_;
  kdbg::v1::DebugBinaryHeader header_;
  int64_t max_size_ = 0;
  DebugBinaryStore::Owner owner_;
  std::string target_build_id_;
  std::string target_desc_;
  std::unique_ptr<DebugBinaryStore::Upload> upload_;
  absl::Mutex mu_;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace

AgentService::AgentService(Options options, SessionManager* sessions, Resolver* resolver,
                           AgentMetrics* metrics)
    : options_(std::move(options)),
      sessions_(sessions),
      resolver_(resolver),
      metrics_(metrics),
      pool_(std::make_unique<WorkQueue>(options_.resolve_threads)) {}

AgentService::~AgentService() = default;

grpc::Status AgentService::CheckCaller(grpc::CallbackServerContext* ctx,
                                       std::string* caller) const {
  std::shared_ptr<const grpc::AuthContext> auth = ctx->auth_context();
  tls::PeerIdentity peer;
  if (auth != nullptr) peer = tls::PeerIdentityFromAuthContext(*auth);
  *caller = peer.ToString();
  grpc::Status st = tls::IdentityCheckingProcessor::Check(peer, options_.allowed_clients);
  if (!st.ok())
    log::Warning("call refused",
                 {{"caller", *caller}, {"peer", ctx->peer()}, {"error", st.error_message()}});
  return st;
}

grpc::Status AgentService::CheckTargetKind(const kdbg::v1::TargetRef& target) const {
  if (!target.container_id().empty() || options_.allow_host_pid) return grpc::Status::OK;
  return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                      "this agent resolves containers only: name the target by container ID (a "
                      "bare host PID needs the agent's --allow-host-pid)");
}

grpc::ServerUnaryReactor* AgentService::Resolve(grpc::CallbackServerContext* ctx,
                                                const kdbg::v1::ResolveRequest* req,
                                                kdbg::v1::ResolvedTarget* resp) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  std::string caller;
  if (grpc::Status st = CheckCaller(ctx, &caller); !st.ok()) {
    reactor->Finish(st);
    return reactor;
  }
  if (grpc::Status st = CheckTargetKind(req->target()); !st.ok()) {
    reactor->Finish(st);
    return reactor;
  }
  pool_->Post([this, req, resp, reactor, caller] {
    absl::Time t0 = MonotonicNow();
    absl::StatusOr<kdbg::v1::ResolvedTarget> r = resolver_->Resolve(req->target());
    metrics_->ObserveResolve(MonotonicNow() - t0);
    log::Info("resolve", {{"caller", caller},
                          {"container_id", req->target().container_id()},
                          {"pid", r.ok() ? r->host_pid() : 0},
                          {"result", r.ok() ? std::string("ok") : r.status().ToString()}});
    if (r.ok()) {
      *resp = *r;
      if (resp->node_name().empty()) resp->set_node_name(options_.node_name);
    }
    reactor->Finish(ToGrpcStatus(r.status()));
  });
  return reactor;
}

grpc::ServerUnaryReactor* AgentService::ListFunctions(grpc::CallbackServerContext* ctx,
                                                      const kdbg::v1::ListFunctionsRequest* req,
                                                      kdbg::v1::FunctionList* resp) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  std::string caller;
  if (grpc::Status st = CheckCaller(ctx, &caller); !st.ok()) {
    reactor->Finish(st);
    return reactor;
  }
  if (!options_.list_functions) {
    reactor->Finish(grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                                 "this agent cannot list a target's functions"));
    return reactor;
  }
  if (grpc::Status st = CheckTargetKind(req->target()); !st.ok()) {
    reactor->Finish(st);
    return reactor;
  }
  pool_->Post([this, req, resp, reactor, caller] {
    absl::Status s = [&]() -> absl::Status {
      absl::StatusOr<kdbg::v1::ResolvedTarget> r = resolver_->Resolve(req->target());
      if (!r.ok()) return r.status();
      if (r->binary().go_version().empty() && r->binary().path().empty()) {
        return absl::FailedPreconditionError(
            absl::StrCat("pid ", r->host_pid(), " has no executable to read: ", r->problem()));
      }
      kdbg::v1::FunctionQuery q = req->query();
      if (q.limit() <= 0 || q.limit() > kMaxFunctionsPerCall) q.set_limit(kMaxFunctionsPerCall);
      absl::StatusOr<kdbg::v1::FunctionList> list = options_.list_functions(*r, q);
      if (!list.ok()) return list.status();
      // The executable read must be the resolved process's, not a PID reused meanwhile. (Not
      // Verify: a target traced by another session still has functions to list.)
      absl::StatusOr<kdbg::v1::ResolvedTarget> again = resolver_->Resolve(req->target());
      if (!again.ok()) return again.status();
      if (again->host_pid() != r->host_pid() ||
          again->start_time_ticks() != r->start_time_ticks()) {
        return absl::UnavailableError(
            absl::StrCat("the container's process changed while its functions were read (pid ",
                         r->host_pid(), " -> ", again->host_pid(), "): try again"));
      }
      *resp = *std::move(list);
      return absl::OkStatus();
    }();
    log::Info("list functions", {{"caller", caller},
                                 {"user", req->user()},
                                 {"container_id", req->target().container_id()},
                                 {"regexp", req->query().regexp()},
                                 {"matches", static_cast<int>(resp->total())},
                                 {"result", s.ok() ? std::string("ok") : s.ToString()}});
    reactor->Finish(ToGrpcStatus(s));
  });
  return reactor;
}

grpc::ServerWriteReactor<kdbg::v1::Event>* AgentService::StartSessionStream(
    grpc::CallbackServerContext* ctx, SessionRequest request) {
  if (grpc::Status st = CheckCaller(ctx, &request.caller); !st.ok()) return new RefusedWriter(st);
  absl::StatusOr<std::shared_ptr<Session>> s = sessions_->Start(std::move(request));
  if (!s.ok()) {
    log::Warning("session refused", {{"error", s.status().ToString()}});
    return new RefusedWriter(ToGrpcStatus(s.status()));
  }
  auto reactor = std::make_shared<SessionStreamReactor>(*s);
  SessionStreamReactor* raw = reactor.get();
  raw->Begin(std::move(reactor));
  return raw;
}

grpc::ServerWriteReactor<kdbg::v1::Event>* AgentService::Trace(grpc::CallbackServerContext* ctx,
                                                               const kdbg::v1::TraceRequest* req) {
  SessionRequest r;
  r.mode = kdbg::v1::SESSION_MODE_TRACE;
  r.target = req->target();
  r.options = req->options();
  r.user = req->user();
  r.lease_ms = req->lease_ms();
  r.session_id = req->session_id();
  r.debug_binary_id = req->debug_binary_id();
  r.max_stop_ms = req->max_stop_ms();
  return StartSessionStream(ctx, std::move(r));
}

grpc::ServerWriteReactor<kdbg::v1::Event>* AgentService::Attach(
    grpc::CallbackServerContext* ctx, const kdbg::v1::AttachRequest* req) {
  SessionRequest r;
  r.mode = kdbg::v1::SESSION_MODE_ATTACH;
  r.target = req->target();
  r.options.set_allow_unsupported_go(req->allow_unsupported_go());
  r.user = req->user();
  r.lease_ms = req->lease_ms();
  r.session_id = req->session_id();
  r.debug_binary_id = req->debug_binary_id();
  r.max_stop_ms = req->max_stop_ms();
  return StartSessionStream(ctx, std::move(r));
}

grpc::ServerBidiReactor<kdbg::v1::TunnelFrame, kdbg::v1::TunnelFrame>* AgentService::Tunnel(
    grpc::CallbackServerContext* ctx) {
  std::string caller;
  grpc::Status st = CheckCaller(ctx, &caller);
  auto reactor = std::make_shared<TunnelReactor>(sessions_, caller);
  TunnelReactor* raw = reactor.get();
  if (!st.ok()) {
    // Keep the reactor alive until OnDone, then finish without reading anything.
    class Refused final
        : public grpc::ServerBidiReactor<kdbg::v1::TunnelFrame, kdbg::v1::TunnelFrame> {
     public:
      explicit Refused(const grpc::Status& s) { Finish(s); }
      void OnDone() override { delete this; }
    };
    return new Refused(st);
  }
  raw->Begin(std::move(reactor));
  return raw;
}

grpc::ServerReadReactor<kdbg::v1::DebugBinaryChunk>* AgentService::UploadDebugBinary(
    grpc::CallbackServerContext* ctx, kdbg::v1::DebugBinaryUploaded* resp) {
  std::string caller;
  if (grpc::Status st = CheckCaller(ctx, &caller); !st.ok()) {
    class Refused final : public grpc::ServerReadReactor<kdbg::v1::DebugBinaryChunk> {
     public:
      explicit Refused(const grpc::Status& s) { Finish(s); }
      void OnDone() override { delete this; }
    };
    return new Refused(st);
  }
  auto reactor = std::make_shared<UploadReactor>(options_.debug_binaries, resolver_, pool_.get(),
                                                 options_.allow_host_pid, std::move(caller), resp);
  UploadReactor* raw = reactor.get();
  raw->Begin(std::move(reactor));
  return raw;
}

grpc::ServerUnaryReactor* AgentService::ListSessions(grpc::CallbackServerContext* ctx,
                                                     const kdbg::v1::ListSessionsRequest*,
                                                     kdbg::v1::ListSessionsResponse* resp) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  std::string caller;
  if (grpc::Status st = CheckCaller(ctx, &caller); !st.ok()) {
    reactor->Finish(st);
    return reactor;
  }
  for (auto& info : sessions_->List()) *resp->add_sessions() = std::move(info);
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* AgentService::StopSession(grpc::CallbackServerContext* ctx,
                                                    const kdbg::v1::StopSessionRequest* req,
                                                    kdbg::v1::StopSessionResponse* resp) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  std::string caller;
  if (grpc::Status st = CheckCaller(ctx, &caller); !st.ok()) {
    reactor->Finish(st);
    return reactor;
  }
  std::shared_ptr<Session> s = sessions_->Find(req->session_id());
  if (s == nullptr && !options_.recovered_sessions.empty()) {
    if (std::optional<kdbg::v1::EndedEvent> ended =
            RecoveredSessions(options_.recovered_sessions).Find(req->session_id())) {
      log::Info("stop of a recovered session: answered with its recorded end",
                {{"session", req->session_id()}, {"caller", caller}});
      *resp->mutable_ended() = *ended;
      reactor->Finish(grpc::Status::OK);
      return reactor;
    }
  }
  if (s == nullptr) {
    reactor->Finish(
        grpc::Status(grpc::StatusCode::NOT_FOUND,
                     absl::StrCat("no session ", req->session_id(), " on node ", options_.node_name,
                                  " (it may have ended; kdbg sessions lists the live ones)")));
    return reactor;
  }
  log::Info("session stop requested", {{"session", s->id()}, {"caller", caller}});
  s->RequestEnd(kdbg::v1::END_REASON_STOP_REQUESTED);
  s->OnEnded([reactor, resp](const kdbg::v1::EndedEvent& ended) {
    *resp->mutable_ended() = ended;
    reactor->Finish(grpc::Status::OK);
  });
  return reactor;
}

grpc::ServerUnaryReactor* AgentService::Version(grpc::CallbackServerContext* ctx,
                                                const kdbg::v1::VersionRequest*,
                                                kdbg::v1::VersionInfo* resp) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  std::string caller;
  if (grpc::Status st = CheckCaller(ctx, &caller); !st.ok()) {
    reactor->Finish(st);
    return reactor;
  }
  resp->set_component("kdbg-agent");
  resp->set_version(KDBG_VERSION);
  resp->set_delve_version(options_.delve_version);
  resp->set_node_name(options_.node_name);
  if (options_.ready) {
    if (absl::Status ready = options_.ready(); !ready.ok()) {
      resp->set_cannot_debug(std::string(ready.message()));
    }
  }
  if (options_.ebpf_problem) resp->set_ebpf_unavailable(options_.ebpf_problem());
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

}  // namespace kdbg::agent
