// Helpers shared by the command implementations (not part of the CLI's interface).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "cli/commands.h"
#include "kdbg/v1/controller.grpc.pb.h"

namespace kdbg::cli::internal {

// Serialises writes to stdout/stderr from the command's threads; flushes every write.
class Console {
 public:
  Console(const CommandEnv& env, OutputFormat format) : env_(env), format_(format) {}
  void Out(const std::string& text);
  void Err(const std::string& text);
  void Print(const Rendered& r);
  // One line "kdbg: error: ..." on stderr, an "error" object on stdout with -o json. Returns 1.
  int Fail(const absl::Status& status);
  int Fail(const std::string& code, const std::string& message);
  OutputFormat format() const { return format_; }

 private:
  const CommandEnv& env_;
  OutputFormat format_;
  absl::Mutex mu_;
};

// Everything a command needs to talk to the controller about one pod.
struct Connection {
  std::unique_ptr<Cluster> cluster;
  kdbg::v1::PodTarget target;  // filled when a TARGET was given (pod empty for several pods)
  // A workload or selector (deploy/NAME, -l): the pods chosen (Running, at most --max-pods) and
  // what the user named ("deployment/web").
  bool many = false;
  std::vector<kube::Pod> pods;
  std::string selection;
  std::string token;
  Endpoint endpoint;
  std::unique_ptr<kdbg::v1::Controller::Stub> stub;
};

// Opens the kubeconfig, (when `target` is given) reads the pod and picks the container — or, for a
// workload or selector, lists its Running pods with the user's credentials and chooses at most
// --max-pods — gets the token, finds and dials the controller. Prints progress lines on stderr.
// `one_pod_command` ("attach", "resolve"): a workload or selector is refused with InvalidArgument
// naming the pods to choose from.
absl::StatusOr<Connection> Connect(const GlobalOptions& g, const TargetOptions* target,
                                   const CommandEnv& env, Console& console,
                                   const std::string& one_pod_command = "");

absl::Status RpcStatus(const grpc::Status& status, const std::string& what, const Connection& c,
                       const std::string& session_id = "");

// The largest data message of an upload: well under gRPC's default 4 MiB message cap.
inline constexpr size_t kUploadChunkBytes = size_t{1} << 20;

// `--debug-binary FILE`: streams FILE to the pod's agent through the controller (header first,
// naming the session `mode` it prepares, so that an attach the policy refuses is refused before
// any byte is sent; then chunks of kUploadChunkBytes) and returns the agent's answer, whose
// upload_id the Trace or Attach request then names. Ctrl-C or SIGTERM (env.interrupt_fd) cancels
// the upload; the agent then deletes what it received. Errors: NotFound / PermissionDenied for an
// unreadable FILE, InvalidArgument for an empty one or a directory, the controller's and agent's
// refusals (cap, build ID, not Go), Cancelled when interrupted.
absl::StatusOr<kdbg::v1::DebugBinaryUploaded> UploadDebugBinary(kdbg::v1::SessionMode mode,
                                                                const std::string& path,
                                                                const Connection& conn,
                                                                const CommandEnv& env,
                                                                Console& console);

}  // namespace kdbg::cli::internal
