#include "tests/integration/controller/fake_agent.h"

#include <algorithm>

#include "absl/time/clock.h"
#include "common/clock.h"
#include "google/protobuf/unknown_field_set.h"
#include "grpcpp/server_builder.h"

namespace kdbg::controller::testing {

FakeAgent::FakeAgent(std::string node, const std::string& address,
                     std::shared_ptr<grpc::ServerCredentials> creds)
    : node_(std::move(node)) {
  grpc::ServerBuilder b;
  b.AddListeningPort(address, std::move(creds));
  b.RegisterService(this);
  server_ = b.BuildAndStart();
}

FakeAgent::~FakeAgent() {
  if (server_) server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
}

void FakeAgent::WaitCancelled(grpc::ServerContext* ctx, const std::string& session_id) {
  while (!ctx->IsCancelled()) {
    {
      absl::MutexLock lock(&mu_);
      if (std::find(stop_requests_.begin(), stop_requests_.end(), session_id) !=
          stop_requests_.end()) {
        return;
      }
    }
    absl::SleepFor(absl::Milliseconds(5));
  }
  ++cancelled_;
}

int FakeAgent::AwaitCancelled(int n, absl::Duration timeout) const {
  const absl::Time deadline = kdbg::MonotonicNow() + timeout;
  while (cancelled_.load() < n && kdbg::MonotonicNow() < deadline)
    absl::SleepFor(absl::Milliseconds(5));
  return cancelled_.load();
}

grpc::Status FakeAgent::UploadDebugBinary(grpc::ServerContext* ctx,
                                          grpc::ServerReader<v1::DebugBinaryChunk>* reader,
                                          v1::DebugBinaryUploaded* resp) {
  ++calls_;
  Upload u;
  v1::DebugBinaryChunk c;
  if (!reader->Read(&u.first)) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "no header");
  }
  while (reader->Read(&c)) {
    u.bytes += static_cast<int64_t>(c.data().size());
    u.largest_chunk = std::max(u.largest_chunk, c.data().size());
  }
  // A cancelled call ends Read() at once, but the sync server may report IsCancelled() a moment
  // later: a short upload waits for it (bounded) before it is called cut off rather than cancelled.
  for (int i = 0; i < 200 && !ctx->IsCancelled() && u.bytes != u.first.header().size(); ++i) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  u.cancelled = ctx->IsCancelled();
  {
    absl::MutexLock lock(&mu_);
    uploads_.push_back(u);
  }
  if (u.cancelled) return grpc::Status::CANCELLED;
  if (u.bytes != u.first.header().size()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "cut off");
  }
  resp->set_upload_id("upload-1");
  resp->set_build_id("fake/build/id");
  resp->set_size(u.bytes);
  return grpc::Status::OK;
}

grpc::Status FakeAgent::Trace(grpc::ServerContext* ctx, const v1::TraceRequest* req,
                              grpc::ServerWriter<v1::Event>* writer) {
  ++calls_;
  ++active_;
  AgentScript script;
  {
    absl::MutexLock lock(&mu_);
    traces_.push_back(*req);
    script = script_;
    v1::SessionInfo info;
    info.set_id(req->session_id());
    info.set_mode(v1::SESSION_MODE_TRACE);
    *info.mutable_target() = req->target();
    info.set_node_name(node_);
    info.set_user(req->user());
    sessions_.push_back(info);
  }
  v1::Event e;
  e.set_session_id(req->session_id());
  e.mutable_armed()->set_host_pid(script.host_pid);
  e.mutable_armed()->add_tracepoints()->set_function("main.handleSlash");
  writer->Write(e);
  for (int i = 0; i < script.hits; ++i) {
    if (script.hit_interval_ms > 0) absl::SleepFor(absl::Milliseconds(script.hit_interval_ms));
    v1::Event h;
    h.set_session_id(req->session_id());
    h.set_time_unix_nanos(absl::GetCurrentTimeNanos());
    h.mutable_hit()->set_tracepoint("handleSlash");
    h.mutable_hit()->set_hit_count(i + 1);
    if (script.hit_bytes > 0) h.mutable_hit()->set_function(std::string(script.hit_bytes, 'f'));
    if (!writer->Write(h)) break;
    ++hits_written_;
  }
  if (script.malformed_event) {
    v1::Event bad;
    bad.set_session_id(req->session_id());
    // Field 11 (hit), length-delimited, holding a varint cut short: the typed writer sends
    // unknown fields as they are.
    v1::Event::GetReflection()->MutableUnknownFields(&bad)->AddLengthDelimited(
        v1::Event::kHitFieldNumber, std::string("\xff\xff", 2));
    writer->Write(bad);
    script.end_by_itself = false;
  }
  if (script.die) {
    absl::MutexLock lock(&mu_);
    sessions_.clear();
    --active_;
    return grpc::Status(grpc::StatusCode::UNAVAILABLE, "Socket closed");
  }
  v1::EndReason reason = v1::END_REASON_MAX_HITS;
  if (!script.end_by_itself) {
    WaitCancelled(ctx, req->session_id());
    reason = ctx->IsCancelled() ? v1::END_REASON_CLIENT_GONE : v1::END_REASON_STOP_REQUESTED;
  }
  {
    absl::MutexLock lock(&mu_);
    sessions_.erase(
        std::remove_if(sessions_.begin(), sessions_.end(),
                       [&](const v1::SessionInfo& s) { return s.id() == req->session_id(); }),
        sessions_.end());
  }
  --active_;
  if (ctx->IsCancelled()) return grpc::Status::CANCELLED;
  v1::Event end;
  end.set_session_id(req->session_id());
  end.mutable_ended()->set_reason(reason);
  end.mutable_ended()->set_hits(script.hits);
  end.mutable_ended()->set_target_alive(true);
  writer->Write(end);
  if (script.linger_after_end_ms > 0) {
    absl::SleepFor(absl::Milliseconds(script.linger_after_end_ms));
  }
  return grpc::Status::OK;
}

grpc::Status FakeAgent::Resolve(grpc::ServerContext*, const v1::ResolveRequest*,
                                v1::ResolvedTarget* resp) {
  calls_.fetch_add(1);
  absl::MutexLock lock(&mu_);
  resp->set_host_pid(script_.host_pid);
  resp->set_debuggable(true);
  return grpc::Status::OK;
}

grpc::Status FakeAgent::Attach(grpc::ServerContext* ctx, const v1::AttachRequest* req,
                               grpc::ServerWriter<v1::Event>* writer) {
  ++calls_;
  {
    absl::MutexLock lock(&mu_);
    attaches_.push_back(*req);
  }
  v1::Event ready;
  ready.set_session_id(req->session_id());
  ready.mutable_notice()->set_kind(kdbg::v1::NOTICE_KIND_READY);
  writer->Write(ready);
  WaitCancelled(ctx, req->session_id());
  if (ctx->IsCancelled()) return grpc::Status::CANCELLED;
  v1::Event end;
  end.mutable_ended()->set_reason(v1::END_REASON_STOP_REQUESTED);
  writer->Write(end);
  return grpc::Status::OK;
}

// Echoes every data frame back, upper-cased, until the client half-closes.
grpc::Status FakeAgent::Tunnel(grpc::ServerContext* ctx,
                               grpc::ServerReaderWriter<v1::TunnelFrame, v1::TunnelFrame>* stream) {
  ++calls_;
  v1::TunnelFrame first;
  if (!stream->Read(&first) || first.session_id().empty()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "no session id");
  }
  v1::TunnelFrame in;
  while (stream->Read(&in)) {
    v1::TunnelFrame out;
    std::string data = in.data();
    std::transform(data.begin(), data.end(), data.begin(), ::toupper);
    out.set_data(first.session_id() + ":" + data);
    stream->Write(out);
  }
  return grpc::Status::OK;
}

grpc::Status FakeAgent::ListSessions(grpc::ServerContext*, const v1::ListSessionsRequest*,
                                     v1::ListSessionsResponse* resp) {
  absl::MutexLock lock(&mu_);
  for (const auto& s : sessions_) *resp->add_sessions() = s;
  return grpc::Status::OK;
}

grpc::Status FakeAgent::StopSession(grpc::ServerContext*, const v1::StopSessionRequest* req,
                                    v1::StopSessionResponse* resp) {
  absl::MutexLock lock(&mu_);
  if (script_.stop_fails) {
    return grpc::Status(grpc::StatusCode::UNAVAILABLE, "fake agent: StopSession fails");
  }
  stop_requests_.push_back(req->session_id());
  if (script_.stop_unavailable > 0) {
    --script_.stop_unavailable;
    return grpc::Status(grpc::StatusCode::UNAVAILABLE, "connection refused");
  }
  if (!script_.recovered_message.empty()) {
    resp->mutable_ended()->set_reason(v1::END_REASON_RECOVERED);
    resp->mutable_ended()->set_target_alive(true);
    resp->mutable_ended()->set_message(script_.recovered_message);
    return grpc::Status::OK;
  }
  resp->mutable_ended()->set_reason(v1::END_REASON_STOP_REQUESTED);
  return grpc::Status::OK;
}

grpc::Status FakeAgent::Version(grpc::ServerContext*, const v1::VersionRequest*,
                                v1::VersionInfo* resp) {
  resp->set_component("kdbg-agent");
  resp->set_version("test");
  resp->set_node_name(node_);
  return grpc::Status::OK;
}

}  // namespace kdbg::controller::testing
