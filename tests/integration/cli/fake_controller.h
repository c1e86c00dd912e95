// An in-process kdbg Controller for the CLI's tests: TLS, bearer-token check, scripted event
// streams, and a record of what the CLI asked and whether it cancelled.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "kdbg/v1/controller.grpc.pb.h"

namespace kdbg::cli::testing {

class FakeController final : public kdbg::v1::Controller::Service {
 public:
  enum class StreamEnd {
    kReturn,  // send the scripted events, then end the stream
    kHold,    // after them, hold until StopSession (-> ended STOP_REQUESTED) or cancellation
  };

  std::string token = "good-token";
  std::vector<kdbg::v1::Event> trace_events;
  StreamEnd trace_end = StreamEnd::kReturn;
  bool stop_hangs = false;  // StopSession never answers (until cancelled)
  kdbg::v1::ControllerResolveResponse resolve_response;
  kdbg::v1::ControllerListSessionsResponse sessions_response;
  kdbg::v1::ControllerVersionResponse version_response;
  // ListFunctions answers from this list: the regexp is matched as a plain substring, runtime
  // exclusion drops names starting with "runtime.", offset and limit apply.
  std::vector<std::string> functions;

  // Recorded.
  absl::Mutex mu;
  std::vector<kdbg::v1::ControllerTraceRequest> trace_requests ABSL_GUARDED_BY(mu);
  std::vector<kdbg::v1::ControllerAttachRequest> attach_requests ABSL_GUARDED_BY(mu);
  std::vector<kdbg::v1::ControllerResolveRequest> resolve_requests ABSL_GUARDED_BY(mu);
  std::vector<kdbg::v1::ControllerListSessionsRequest> list_requests ABSL_GUARDED_BY(mu);
  std::vector<std::string> stop_requests ABSL_GUARDED_BY(mu);
  std::vector<kdbg::v1::ControllerListFunctionsRequest> functions_requests ABSL_GUARDED_BY(mu);
  std::vector<std::string> rejected_tokens ABSL_GUARDED_BY(mu);
  bool stream_cancelled ABSL_GUARDED_BY(mu) = false;
  bool stream_open ABSL_GUARDED_BY(mu) = false;
  int tunnels ABSL_GUARDED_BY(mu) = 0;

  // Waits until `pred` holds (under mu), up to `timeout`.
  bool WaitFor(const std::function<bool()>& pred, absl::Duration timeout);

  grpc::Status Resolve(grpc::ServerContext* c, const kdbg::v1::ControllerResolveRequest* req,
                       kdbg::v1::ControllerResolveResponse* resp) override;
  grpc::Status Trace(grpc::ServerContext* c, const kdbg::v1::ControllerTraceRequest* req,
                     grpc::ServerWriter<kdbg::v1::Event>* writer) override;
  grpc::Status Attach(grpc::ServerContext* c, const kdbg::v1::ControllerAttachRequest* req,
                      grpc::ServerWriter<kdbg::v1::Event>* writer) override;
  grpc::Status Tunnel(
      grpc::ServerContext* c,
      grpc::ServerReaderWriter<kdbg::v1::TunnelFrame, kdbg::v1::TunnelFrame>* stream) override;
  grpc::Status ListSessions(grpc::ServerContext* c,
                            const kdbg::v1::ControllerListSessionsRequest* req,
                            kdbg::v1::ControllerListSessionsResponse* resp) override;
  grpc::Status StopSession(grpc::ServerContext* c,
                           const kdbg::v1::ControllerStopSessionRequest* req,
                           kdbg::v1::ControllerStopSessionResponse* resp) override;
  grpc::Status Version(grpc::ServerContext* c, const kdbg::v1::ControllerVersionRequest* req,
                       kdbg::v1::ControllerVersionResponse* resp) override;
  grpc::Status ListFunctions(grpc::ServerContext* c,
                             const kdbg::v1::ControllerListFunctionsRequest* req,
                             kdbg::v1::FunctionList* resp) override;

 private:
  grpc::Status CheckToken(grpc::ServerContext* c);
  grpc::Status Stream(grpc::ServerContext* c, grpc::ServerWriter<kdbg::v1::Event>* writer,
                      const std::vector<kdbg::v1::Event>& events, StreamEnd end);
  bool stop_called_ ABSL_GUARDED_BY(mu) = false;
};

// The server: TLS on 127.0.0.1 and a free port.
class FakeControllerServer {
 public:
  FakeControllerServer(FakeController* service, const std::string& cert_path,
                       const std::string& key_path);
  ~FakeControllerServer();
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  int port() const { return port_; }

 private:
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

}  // namespace kdbg::cli::testing
