#include "tests/integration/cli/fake_controller.h"

#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "common/tls.h"
#include "gtest/gtest.h"

namespace kdbg::cli::testing {

bool FakeController::WaitFor(const std::function<bool()>& pred, absl::Duration timeout) {
  absl::Time deadline = kdbg::MonotonicNow() + timeout;
  while (kdbg::MonotonicNow() < deadline) {
    {
      absl::MutexLock lock(&mu);
      if (pred()) return true;
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
  absl::MutexLock lock(&mu);
  return pred();
}

grpc::Status FakeController::CheckToken(grpc::ServerContext* c) {
  auto it = c->client_metadata().find("authorization");
  std::string got =
      it == c->client_metadata().end() ? "" : std::string(it->second.data(), it->second.size());
  if (got != "Bearer " + token) {
    absl::MutexLock lock(&mu);
    rejected_tokens.push_back(got);
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "token rejected by the fake controller");
  }
  return grpc::Status::OK;
}

grpc::Status FakeController::Stream(grpc::ServerContext* c,
                                    grpc::ServerWriter<kdbg::v1::Event>* writer,
                                    const std::vector<kdbg::v1::Event>& events, StreamEnd end) {
  {
    absl::MutexLock lock(&mu);
    stream_open = true;
  }
  int64_t hits = 0;
  for (const auto& e : events) {
    if (e.has_hit()) ++hits;
    writer->Write(e);
  }
  if (end == StreamEnd::kReturn) {
    absl::MutexLock lock(&mu);
    stream_open = false;
    return grpc::Status::OK;
  }
  while (true) {
    {
      absl::MutexLock lock(&mu);
      if (stop_called_) break;
    }
    if (c->IsCancelled()) {
      absl::MutexLock lock(&mu);
      stream_cancelled = true;
      stream_open = false;
      return grpc::Status::CANCELLED;
    }
    absl::SleepFor(absl::Milliseconds(5));
  }
  kdbg::v1::Event ended;
  ended.set_session_id(events.empty() ? "" : events.front().session_id());
  ended.mutable_ended()->set_reason(kdbg::v1::END_REASON_STOP_REQUESTED);
  ended.mutable_ended()->set_hits(hits);
  ended.mutable_ended()->set_message("target running, detached cleanly");
  ended.mutable_ended()->set_target_alive(true);
  writer->Write(ended);
  absl::MutexLock lock(&mu);
  stream_open = false;
  return grpc::Status::OK;
}

grpc::Status FakeController::Resolve(grpc::ServerContext* c,
                                     const kdbg::v1::ControllerResolveRequest* req,
                                     kdbg::v1::ControllerResolveResponse* resp) {
  if (auto s = CheckToken(c); !s.ok()) return s;
  absl::MutexLock lock(&mu);
  resolve_requests.push_back(*req);
  *resp = resolve_response;
  return grpc::Status::OK;
}

grpc::Status FakeController::ListFunctions(grpc::ServerContext* c,
                                           const kdbg::v1::ControllerListFunctionsRequest* req,
                                           kdbg::v1::FunctionList* resp) {
  if (auto s = CheckToken(c); !s.ok()) return s;
  absl::MutexLock lock(&mu);
  functions_requests.push_back(*req);
  std::vector<std::string> matches;
  for (const std::string& f : functions) {
    if (req->query().exclude_runtime() && f.rfind("runtime.", 0) == 0) continue;
    if (f.find(req->query().regexp()) != std::string::npos) matches.push_back(f);
  }
  resp->set_total(static_cast<int64_t>(matches.size()));
  for (size_t i = static_cast<size_t>(req->query().offset()); i < matches.size(); ++i) {
    if (req->query().limit() > 0 && resp->functions_size() >= req->query().limit()) break;
    resp->add_functions()->set_name(matches[i]);
  }
  return grpc::Status::OK;
}

grpc::Status FakeController::Trace(grpc::ServerContext* c,
                                   const kdbg::v1::ControllerTraceRequest* req,
                                   grpc::ServerWriter<kdbg::v1::Event>* writer) {
  if (auto s = CheckToken(c); !s.ok()) return s;
  {
    absl::MutexLock lock(&mu);
    trace_requests.push_back(*req);
  }
  return Stream(c, writer, trace_events, trace_end);
}

grpc::Status FakeController::Attach(grpc::ServerContext* c,
                                    const kdbg::v1::ControllerAttachRequest* req,
                                    grpc::ServerWriter<kdbg::v1::Event>* writer) {
  if (auto s = CheckToken(c); !s.ok()) return s;
  {
    absl::MutexLock lock(&mu);
    attach_requests.push_back(*req);
  }
  kdbg::v1::Event progress;
  progress.set_session_id("a-1");
  progress.mutable_notice()->set_kind(kdbg::v1::NOTICE_KIND_PROGRESS);
  progress.mutable_notice()->set_message("Delve attached to PID 4242");
  kdbg::v1::Event ready;
  ready.set_session_id("a-1");
  ready.mutable_notice()->set_kind(kdbg::v1::NOTICE_KIND_READY);
  ready.mutable_notice()->set_message("Delve server ready");
  return Stream(c, writer, {progress, ready}, StreamEnd::kHold);
}

// Stands in for Delve: answers each chunk with "echo:" + chunk, and half-closes when the client
// does.
grpc::Status FakeController::Tunnel(
    grpc::ServerContext* c,
    grpc::ServerReaderWriter<kdbg::v1::TunnelFrame, kdbg::v1::TunnelFrame>* stream) {
  if (auto s = CheckToken(c); !s.ok()) return s;
  kdbg::v1::TunnelFrame frame;
  if (!stream->Read(&frame) || frame.session_id() != "a-1") {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "first frame must name session a-1");
  }
  {
    absl::MutexLock lock(&mu);
    ++tunnels;
  }
  while (stream->Read(&frame)) {
    kdbg::v1::TunnelFrame out;
    if (!frame.data().empty()) {
      out.set_data("echo:" + frame.data());
      stream->Write(out);
    }
    if (frame.close_write()) {
      kdbg::v1::TunnelFrame close;
      close.set_close_write(true);
      stream->Write(close);
      break;
    }
  }
  return grpc::Status::OK;
}

grpc::Status FakeController::ListSessions(grpc::ServerContext* c,
                                          const kdbg::v1::ControllerListSessionsRequest* req,
                                          kdbg::v1::ControllerListSessionsResponse* resp) {
  if (auto s = CheckToken(c); !s.ok()) return s;
  absl::MutexLock lock(&mu);
  list_requests.push_back(*req);
  *resp = sessions_response;
  return grpc::Status::OK;
}

grpc::Status FakeController::StopSession(grpc::ServerContext* c,
                                         const kdbg::v1::ControllerStopSessionRequest* req,
                                         kdbg::v1::ControllerStopSessionResponse* resp) {
  if (auto s = CheckToken(c); !s.ok()) return s;
  {
    absl::MutexLock lock(&mu);
    stop_requests.push_back(req->session_id());
  }
  if (stop_hangs) {
    while (!c->IsCancelled()) absl::SleepFor(absl::Milliseconds(5));
    return grpc::Status::CANCELLED;
  }
  if (req->session_id() == "missing") {
    return grpc::Status(grpc::StatusCode::NOT_FOUND, "session missing not found");
  }
  absl::MutexLock lock(&mu);
  stop_called_ = true;
  resp->mutable_ended()->set_reason(kdbg::v1::END_REASON_STOP_REQUESTED);
  resp->mutable_ended()->set_hits(5);
  resp->mutable_ended()->set_message("target running, detached cleanly");
  resp->mutable_ended()->set_target_alive(true);
  return grpc::Status::OK;
}

grpc::Status FakeController::Version(grpc::ServerContext* c,
                                     const kdbg::v1::ControllerVersionRequest*,
                                     kdbg::v1::ControllerVersionResponse* resp) {
  if (auto s = CheckToken(c); !s.ok()) return s;
  *resp = version_response;
  return grpc::Status::OK;
}

FakeControllerServer::FakeControllerServer(FakeController* service, const std::string& cert_path,
                                           const std::string& key_path) {
  tls::ServerTlsFiles files;
  files.cert_path = cert_path;
  files.key_path = key_path;
  auto creds = tls::MakeServerCredentialsNoClientCert(files);
  EXPECT_TRUE(creds.ok()) << creds.status();
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", *creds, &port_);
  builder.RegisterService(service);
  server_ = builder.BuildAndStart();
  EXPECT_NE(port_, 0);
}

FakeControllerServer::~FakeControllerServer() {
  server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
}

}  // namespace kdbg::cli::testing
