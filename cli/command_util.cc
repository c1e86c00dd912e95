#include "cli/command_util.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <future>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cli/interrupts.h"
#include "cli/target.h"
#include "common/byte_size.h"
#include "common/fd.h"
#include "common/grpc_status.h"
#include "common/status.h"
#include "kube/containers.h"

namespace kdbg::cli::internal {
namespace {
// How long Connect drives the controller's handshake ahead of the first call (ConnectAhead): a
// handshake on loopback or a port-forward takes milliseconds; a controller that does not answer
// is the first call's to report.
constexpr absl::Duration kConnectAheadLimit = absl::Seconds(2);
}  // namespace

void Console::Out(const std::string& text) {
  if (text.empty()) return;
  absl::MutexLock lock(&mu_);
  *env_.out << text << std::flush;
}

void Console::Err(const std::string& text) {
  if (text.empty()) return;
  absl::MutexLock lock(&mu_);
  *env_.err << text << std::flush;
}

void Console::Print(const Rendered& r) {
  absl::MutexLock lock(&mu_);
  if (!r.out.empty()) *env_.out << r.out << std::flush;
  if (!r.err.empty()) *env_.err << r.err << std::flush;
}

int Console::Fail(const std::string& code, const std::string& message) {
  std::string line = message;
  for (char& c : line) {
    if (c == '\n') c = ' ';
  }
  absl::MutexLock lock(&mu_);
  if (format_ == OutputFormat::kJson) *env_.out << ErrorJson(code, line) << "\n" << std::flush;
  *env_.err << "kdbg: error: " << line << "\n" << std::flush;
  return 1;
}

int Console::Fail(const absl::Status& status) {
  return Fail(CodeName(status.code()), std::string(status.message()));
}

absl::Status RpcStatus(const grpc::Status& status, const std::string& what, const Connection& c,
                       const std::string& session_id) {
  return absl::Status(FromGrpcCode(status.error_code()),
                      DescribeRpcError(status, what, c.endpoint.Describe(), session_id));
}

absl::StatusOr<kdbg::v1::DebugBinaryUploaded> UploadDebugBinary(kdbg::v1::SessionMode mode,
                                                                const std::string& path,
                                                                const Connection& conn,
                                                                const CommandEnv& env,
                                                                Console& console) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    return Annotate(ErrnoToStatus(errno, absl::StrCat("open ", path)),
                    "--debug-binary: cannot read the file");
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--debug-binary ", path, " is not a regular file"));
  }
  if (st.st_size == 0) {
    return absl::InvalidArgumentError(absl::StrCat("--debug-binary ", path, " is empty"));
  }
  const std::string name =
      path.substr(path.rfind('/') == std::string::npos ? 0 : path.rfind('/') + 1);
  console.Err(absl::StrCat("kdbg: sending debug binary ", name, " (", HumanSize(st.st_size),
                           ") for pod ", conn.target.namespace_(), "/", conn.target.pod(), "\n"));

  grpc::ClientContext context;
  PrepareContext(&context, conn.token);
  kdbg::v1::DebugBinaryUploaded resp;
  std::unique_ptr<grpc::ClientWriter<kdbg::v1::ControllerDebugBinaryChunk>> writer =
      conn.stub->UploadDebugBinary(&context, &resp);
  std::atomic<bool> done{false};
  std::atomic<bool> interrupted{false};
  std::thread watcher([&] {
    while (!done.load()) {
      if (WaitInterrupt(env.interrupt_fd, absl::Milliseconds(100)) != 0) {
        interrupted = true;
        context.TryCancel();
        return;
      }
    }
  });

  kdbg::v1::ControllerDebugBinaryChunk chunk;
  *chunk.mutable_target() = conn.target;
  chunk.mutable_header()->set_file_name(name);
  chunk.mutable_header()->set_size(st.st_size);
  chunk.set_mode(mode);
  bool ok = writer->Write(chunk);
  std::vector<char> buf(kUploadChunkBytes);
  int64_t sent = 0;
  absl::Status read_error;
  while (ok && sent < st.st_size) {
    ssize_t n = ::read(fd.get(), buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      read_error = ErrnoToStatus(errno, absl::StrCat("read ", path));
      break;
    }
    if (n == 0) break;  // the file shrank: the agent refuses the short upload
    chunk.Clear();
    chunk.set_data(buf.data(), static_cast<size_t>(n));
    ok = writer->Write(chunk);
    sent += n;
  }
  if (!read_error.ok()) {
    context.TryCancel();
  } else if (ok) {
    writer->WritesDone();
  }
  grpc::Status status = writer->Finish();
  done = true;
  watcher.join();
  if (interrupted.load()) {
    return absl::CancelledError(
        "interrupted while sending the debug binary: the upload was cancelled, the agent keeps "
        "nothing of it and no session was started");
  }
  if (!read_error.ok()) return Annotate(read_error, "--debug-binary");
  if (!status.ok()) return RpcStatus(status, "send the debug binary", conn);
  console.Err(absl::StrCat("kdbg: debug binary accepted: build ID ", resp.build_id(), " (",
                           resp.go_version(), ") matches the target\n"));
  return resp;
}

absl::StatusOr<Connection> Connect(const GlobalOptions& g, const TargetOptions* target,
                                   const CommandEnv& env, Console& console,
                                   const std::string& one_pod_command) {
  Connection c;
  TargetSpec spec;
  if (target != nullptr) {
    KDBG_ASSIGN_OR_RETURN(spec, ParseTargetSpec(target->target, target->selector));
    if (target->max_pods < 0) {
      return absl::InvalidArgumentError("--max-pods must be at least 1");
    }
  }
  KDBG_ASSIGN_OR_RETURN(c.cluster, env.open_cluster(g));
  if (target != nullptr && spec.kind != TargetSpec::Kind::kPod) {
    std::string ns = g.namespace_.empty() ? c.cluster->Namespace() : g.namespace_;
    KDBG_ASSIGN_OR_RETURN(PodSet set, ListTargetPods(*c.cluster, ns, spec));
    std::vector<std::string> names;
    for (const kube::Pod& p : set.pods) {
      names.push_back(absl::StrCat("pod/", p.name, " (node ",
                                   p.node_name.empty() ? "unscheduled" : p.node_name, ")"));
    }
    if (!one_pod_command.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "kdbg ", one_pod_command, " works on one pod; ", set.selection, " has ", set.pods.size(),
          set.pods.size() == 1 ? " running pod: " : " running pods: ", absl::StrJoin(names, ", "),
          ". Choose one, e.g. `kdbg ", one_pod_command, " pod/", set.pods.front().name, " -n ", ns,
          "`"));
    }
    c.many = true;
    c.selection = set.selection;
    c.pods = ChoosePods(set.pods, target->max_pods);
    c.target.set_namespace_(ns);
    c.target.set_container(target->container);
    console.Err(absl::StrCat("kdbg: ", set.selection, " in namespace ", ns, ": ", set.pods.size(),
                             set.pods.size() == 1 ? " running pod: " : " running pods: ",
                             absl::StrJoin(names, ", "), "\n"));
    if (c.pods.size() < set.pods.size()) {
      std::vector<std::string> chosen;
      for (const kube::Pod& p : c.pods) chosen.push_back(p.name);
      console.Err(absl::StrCat("kdbg: tracing ", c.pods.size(), " of them (--max-pods ",
                               target->max_pods,
                               ", spread over nodes): ", absl::StrJoin(chosen, ", "), "\n"));
    }
    if (!set.skipped.empty()) {
      console.Err(
          absl::StrCat("kdbg: not traced (not Running): ", absl::StrJoin(set.skipped, ", "), "\n"));
    }
  }
  // One pod: its read (the user's credentials) runs on a thread while this thread finds and dials
  // the controller, so that the API round trip and the controller's TLS handshake (or the
  // port-forward's start) overlap. Errors are reported in the order the user expects: the pod,
  // then the credentials, then the controller.
  std::string ns = g.namespace_.empty() ? c.cluster->Namespace() : g.namespace_;
  std::atomic<bool> pod_failed{false};
  std::future<absl::StatusOr<kube::Pod>> pod_read;
  if (target != nullptr && !c.many) {
    pod_read = std::async(std::launch::async,
                          [cluster = c.cluster.get(), ns, name = spec.name, &pod_failed] {
                            absl::StatusOr<kube::Pod> pod = cluster->GetPod(ns, name);
                            if (!pod.ok()) pod_failed.store(true);
                            return pod;
                          });
  }
  absl::StatusOr<std::string> token = c.cluster->BearerToken();
  absl::StatusOr<Endpoint> endpoint = absl::CancelledError("not reached");
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = absl::CancelledError("not reached");
  if (token.ok()) {
    endpoint = env.find_controller(g, c.cluster->KubectlArgs(),
                                   [&pod_failed] { return pod_failed.load(); });
  }
  if (endpoint.ok()) {
    channel = DialController(*endpoint, g.controller_ca);
    // The TCP and TLS handshake now, while the pod read runs, instead of at the first call; not
    // past a failed pod read (its error comes first). Longer than the read only by what the
    // first call would wait anyway.
    if (channel.ok()) {
      (void)ConnectAhead(**channel, kConnectAheadLimit,
                         [&pod_failed] { return !pod_failed.load(); });
    }
  }
  if (pod_read.valid()) {
    const std::string& pod_name = spec.name;
    absl::StatusOr<kube::Pod> pod = pod_read.get();
    if (!pod.ok()) {
      return Annotate(pod.status(),
                      absl::StrCat("reading pod ", ns, "/", pod_name, " from the Kubernetes API"));
    }
    KDBG_ASSIGN_OR_RETURN(kube::SelectedContainer chosen,
                          kube::SelectContainer(*pod, target->container));
    const std::string& container = chosen.name;
    c.target.set_namespace_(ns);
    c.target.set_pod(pod_name);
    c.target.set_container(container);
    console.Err(absl::StrCat("kdbg: pod ", ns, "/", pod_name, " container ", container, " on node ",
                             pod->node_name.empty() ? "(unscheduled)" : pod->node_name, "\n"));
  }
  if (!token.ok()) return token.status();
  c.token = std::move(*token);
  if (!endpoint.ok()) return endpoint.status();
  c.endpoint = std::move(*endpoint);
  if (!channel.ok()) return channel.status();
  c.stub = kdbg::v1::Controller::NewStub(*channel);
  return c;
}

}  // namespace kdbg::cli::internal
