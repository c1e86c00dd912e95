// kdbg attach: a local TCP listener whose every accepted connection becomes one Tunnel call to the
// session's Delve server, through the controller.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <list>
#include <thread>

#include "absl/strings/str_cat.h"
#include "cli/command_util.h"
#include "cli/commands.h"
#include "cli/ide_config.h"
#include "cli/supervisor.h"
#include "common/fd.h"
#include "common/peer_uid.h"
#include "common/status.h"

namespace kdbg::cli {
namespace {

using internal::Connection;
using internal::Console;

absl::StatusOr<UniqueFd> Listen(const std::string& host, int port, int* bound_port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (::inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("--listen: \"", host, "\" is not an IPv4 address; use 127.0.0.1:PORT"));
  }
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return ErrnoToStatus(errno, "socket");
  int one = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    return Annotate(ErrnoToStatus(errno, absl::StrCat("listen on ", host, ":", port)),
                    "--listen: choose another port");
  }
  if (::listen(fd.get(), 16) != 0) return ErrnoToStatus(errno, "listen");
  socklen_t len = sizeof addr;
  ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&addr), &len);
  *bound_port = ntohs(addr.sin_port);
  return fd;
}

// As Delve's own loopback listener does: on a loopback address only this user's processes may
// drive the debugger through the tunnel. Another user of the same machine (a shared bastion host)
// could otherwise connect to the port and drive the production process with this user's rights.
// Not on other addresses: there the peer may be another host, and the user chose to expose the
// port.
absl::Status CheckPeerIsThisUser(int fd) {
  absl::StatusOr<uid_t> uid = LoopbackPeerUid(fd);
  if (!uid.ok()) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot tell which user connected (", uid.status().message(), ")"));
  }
  if (*uid != ::geteuid()) {
    return absl::PermissionDeniedError(absl::StrCat("it came from UID ", *uid,
                                                    "; only your own (UID ", ::geteuid(),
                                                    ") may debug through this session"));
  }
  return absl::OkStatus();
}

bool IsLoopback(const std::string& host) {
  in_addr a{};
  return ::inet_pton(AF_INET, host.c_str(), &a) == 1 && (ntohl(a.s_addr) >> 24) == 127;
}

// One tunnelled TCP connection.
struct Tunnel {
  UniqueFd socket;
  grpc::ClientContext context;
  std::thread thread;
  std::atomic<bool> finished{false};
};

void PumpTunnel(Connection& conn, const std::string& session_id, Tunnel* t) {
  auto stream = conn.stub->Tunnel(&t->context);
  kdbg::v1::TunnelFrame first;
  first.set_session_id(session_id);
  if (stream->Write(first)) {
    int fd = t->socket.get();
    std::thread up([&stream, fd] {
      char buf[32 * 1024];
      kdbg::v1::TunnelFrame frame;
      while (true) {
        ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        frame.set_data(buf, n);
        if (!stream->Write(frame)) return;
      }
      kdbg::v1::TunnelFrame close;
      close.set_close_write(true);
      stream->Write(close);
      stream->WritesDone();
    });
    kdbg::v1::TunnelFrame frame;
    while (stream->Read(&frame)) {
      const std::string& d = frame.data();
      size_t off = 0;
      while (off < d.size()) {
        ssize_t n = ::send(fd, d.data() + off, d.size() - off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        off += n;
      }
      if (frame.close_write()) ::shutdown(fd, SHUT_WR);
    }
    ::shutdown(fd, SHUT_RDWR);  // unblocks `up`
    t->context.TryCancel();     // and its Write, if the server ended first
    up.join();
  }
  stream->Finish();
  t->finished = true;
}

// `dlv connect ADDR` in the foreground, sharing our terminal.
pid_t StartDlv(const std::string& dlv, const std::string& addr) {
  pid_t pid = ::fork();
  if (pid == 0) {
    ::signal(SIGINT, SIG_DFL);
    ::signal(SIGPIPE, SIG_DFL);
    const char* argv[] = {dlv.c_str(), "connect", addr.c_str(), nullptr};
    ::execv(dlv.c_str(), const_cast<char* const*>(argv));
    ::_exit(127);
  }
  return pid;
}

}  // namespace

int RunAttach(const GlobalOptions& g, const AttachCommandOptions& o, const CommandEnv& env) {
  Console console(env, OutputFormat::kText);
  std::string host;
  int port = 0;
  if (auto s = ParseHostPort(o.listen, &host, &port); !s.ok()) return console.Fail(s);
  int bound_port = 0;
  auto listener = Listen(host, port, &bound_port);
  const bool loopback = IsLoopback(host);
  if (!listener.ok()) return console.Fail(listener.status());
  IdeFiles ide;  // cli/ide_config.h
  ide.vscode = o.vscode;
  ide.goland = o.goland;
  std::string source_dir = internal::AttachSourceDir(o, console);
  ide.dir = source_dir.empty() ? "." : source_dir;
  if (auto s = internal::CheckIdeFiles(ide); !s.ok()) return console.Fail(s);
  auto conn = internal::Connect(g, &o.target, env, console, "attach");
  if (!conn.ok()) return console.Fail(conn.status());
  std::string pod_ref = absl::StrCat(conn->target.namespace_(), "/", conn->target.pod());
  std::optional<SourceMapping> mapping = internal::AttachSourceMapping(source_dir, *conn, console);

  kdbg::v1::ControllerAttachRequest req;
  *req.mutable_target() = conn->target;
  req.set_lease_ms(0);  // the cluster's default lease
  if (!o.debug_binary.empty()) {
    auto uploaded = internal::UploadDebugBinary(kdbg::v1::SESSION_MODE_ATTACH, o.debug_binary,
                                                *conn, env, console);
    if (!uploaded.ok()) return console.Fail(uploaded.status());
    req.set_debug_binary_id(uploaded->upload_id());
  }
  req.set_allow_unsupported_go(o.allow_unsupported_go);
  grpc::ClientContext context;
  PrepareContext(&context, conn->token);
  console.Err(
      absl::StrCat("kdbg: asking the controller at ", conn->endpoint.Describe(), " to attach\n"));
  internal::StreamSupervisor supervisor(*conn, &context, env, console);
  supervisor.Start();
  auto reader = conn->stub->Attach(&context, req);

  std::atomic<bool> stopping{false};
  std::thread acceptor;
  std::list<std::unique_ptr<Tunnel>> tunnels;
  absl::Mutex tunnels_mu;
  pid_t dlv_pid = -1;
  std::thread dlv_waiter;
  std::string session_id;

  auto start_serving = [&] {
    acceptor = std::thread([&] {
      while (!stopping) {
        pollfd p{listener->get(), POLLIN, 0};
        if (::poll(&p, 1, 100) <= 0) continue;
        int fd = ::accept4(listener->get(), nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) continue;
        if (absl::Status who = loopback ? CheckPeerIsThisUser(fd) : absl::OkStatus(); !who.ok()) {
          ::close(fd);
          console.Err(absl::StrCat("kdbg: refused a debugger connection: ", who.message(), "\n"));
          continue;
        }
        auto t = std::make_unique<Tunnel>();
        t->socket.Reset(fd);
        PrepareContext(&t->context, conn->token);
        Tunnel* raw = t.get();
        absl::MutexLock lock(&tunnels_mu);
        if (stopping) break;
        raw->thread = std::thread([&, raw] {
          PumpTunnel(*conn, session_id, raw);
          // Not while the session ends: every tunnel closes then.
          if (!stopping) console.Err("kdbg: debugger disconnected\n");
        });
        tunnels.push_back(std::move(t));
        console.Err("kdbg: debugger connected\n");
      }
    });
    std::string addr = absl::StrCat(host, ":", bound_port);
    std::string config_name = absl::StrCat("kdbg: ", pod_ref);
    console.Out(AttachInstructions(host, bound_port, pod_ref,
                                   VsCodeConfiguration(config_name, host, bound_port, mapping)));
    if (ide.vscode || ide.goland) {
      absl::StatusOr<std::string> said = WriteIdeFiles(ide, pod_ref, host, bound_port, mapping);
      console.Err(said.ok() ? *said
                            : absl::StrCat("kdbg: could not write the IDE configuration: ",
                                           said.status().message(), "\n"));
    }
    if (!o.headless && !env.dlv_path.empty()) {
      supervisor.IgnoreSigint(true);
      console.Err("kdbg: starting dlv connect; quit dlv to end the session\n");
      dlv_pid = StartDlv(env.dlv_path, addr);
      if (dlv_pid > 0) {
        dlv_waiter = std::thread([&, pid = dlv_pid] {
          int st = 0;
          while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
          }
          supervisor.IgnoreSigint(false);
          supervisor.RequestStop("dlv exited");
        });
      }
    }
  };

  kdbg::v1::Event event;
  std::optional<kdbg::v1::EndedEvent> ended;
  bool error_event = false;
  bool serving = false;
  while (reader->Read(&event)) {
    if (!event.session_id().empty() && session_id.empty()) {
      session_id = event.session_id();
      supervisor.SetSessionId(session_id);
    }
    if (event.has_ended()) ended = event.ended();
    if (event.has_error()) error_event = true;
    console.Print(RenderEvent(event, OutputFormat::kText));
    bool ready = (event.has_notice() && event.notice().kind() == kdbg::v1::NOTICE_KIND_READY) ||
                 event.has_armed();
    if (ready && !serving && !session_id.empty()) {
      serving = true;
      start_serving();
    }
  }
  grpc::Status status = reader->Finish();

  stopping = true;
  if (acceptor.joinable()) acceptor.join();
  {
    absl::MutexLock lock(&tunnels_mu);
    for (auto& t : tunnels) {
      t->context.TryCancel();
      ::shutdown(t->socket.get(), SHUT_RDWR);
    }
  }
  for (auto& t : tunnels) t->thread.join();
  if (dlv_pid > 0) {
    ::kill(dlv_pid, SIGTERM);  // `dlv connect` is only a client; the agent owns the server
    dlv_waiter.join();
  }
  supervisor.Finish();

  if (supervisor.forced()) {
    console.Err("kdbg: quit at once; the agent still ends the session safely on its own\n");
    return 130;
  }
  if (!ended && supervisor.stop_ended()) {
    ended = supervisor.stop_ended();
    console.Err(EndedText(*ended));
  }
  if (ended) return supervisor.stop_requested() || CleanEnd(*ended) ? 0 : 1;
  if (supervisor.stop_requested()) {
    console.Err(
        "kdbg: ended: stopped; the agent ends the session safely when it sees the client gone\n");
    return 0;
  }
  if (error_event) return 1;
  if (!status.ok()) {
    return console.Fail(internal::RpcStatus(status, "attach", *conn, supervisor.session_id()));
  }
  return console.Fail("UNAVAILABLE", "the controller closed the attach stream without saying why");
}

}  // namespace kdbg::cli
