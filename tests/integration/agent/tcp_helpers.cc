#include "tests/integration/agent/tcp_helpers.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

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
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(port));
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool connected = ::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) == 0;
  ::close(fd);
  return connected;
}

}  // namespace kdbg::testing
