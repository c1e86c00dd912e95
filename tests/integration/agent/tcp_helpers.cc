#include "tests/integration/agent/tcp_helpers.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "common/stream_connect.h"

namespace kdbg::testing {

TunnelBridge::TunnelBridge(kdbg::v1::Agent::Stub* stub, std::string session_id)
    : stub_(stub), session_id_(std::move(session_id)) {
  listen_fd_ = ListenLoopback(&port_);
  ctx_.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(120));
  thread_ = std::thread([this] { Run(); });
}

TunnelBridge::~TunnelBridge() {
  ::shutdown(listen_fd_, SHUT_RDWR);
  ctx_.TryCancel();
  thread_.join();
  ::close(listen_fd_);
}

void TunnelBridge::Run() {
  int c = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
  if (c < 0) return;
  auto stream = stub_->Tunnel(&ctx_);
  kdbg::v1::TunnelFrame first;
  first.set_session_id(session_id_);
  stream->Write(first);
  // Delve -> local client on this thread's helper; local client -> Delve here.
  std::thread down([&] {
    kdbg::v1::TunnelFrame in;
    while (stream->Read(&in)) {
      if (!in.data().empty()) {
        [[maybe_unused]] ssize_t n = ::send(c, in.data().data(), in.data().size(), MSG_NOSIGNAL);
      }
      if (in.close_write()) ::shutdown(c, SHUT_WR);
    }
    ::shutdown(c, SHUT_RDWR);
  });
  char buf[65536];
  ssize_t n;
  while ((n = ::recv(c, buf, sizeof(buf), 0)) > 0) {
    kdbg::v1::TunnelFrame f;
    f.set_data(std::string(buf, static_cast<size_t>(n)));
    if (!stream->Write(f)) break;
  }
  stream->WritesDone();
  down.join();
  status_ = stream->Finish();
  ::close(c);
  ended_.Notify();
}

bool ConnectAndClose(int port) {
  // The descriptor closes as the result goes out of scope.
  return ConnectStream(absl::StrCat("127.0.0.1:", port), absl::ZeroDuration()).ok();
}

}  // namespace kdbg::testing
