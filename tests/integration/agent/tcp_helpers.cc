#include "tests/integration/agent/tcp_helpers.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace kdbg::testing {

static int ConnectLoopback(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

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
}

TcpProxy::TcpProxy(int target_port) : target_port_(target_port) {
  listen_fd_ = ListenLoopback(&port_);
  thread_ = std::thread([this] { Run(); });
}

TcpProxy::~TcpProxy() {
  stop_ = true;
  ::shutdown(listen_fd_, SHUT_RDWR);
  Sever();
  thread_.join();
  ::close(listen_fd_);
}

void TcpProxy::Sever() {
  int a = client_fd_.exchange(-1), b = server_fd_.exchange(-1);
  if (a >= 0) ::shutdown(a, SHUT_RDWR);
  if (b >= 0) ::shutdown(b, SHUT_RDWR);
}

void TcpProxy::Run() {
  while (!stop_) {
    int c = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) return;
    int s = ConnectLoopback(target_port_);
    if (s < 0) {
      ::close(c);
      continue;
    }
    client_fd_ = c;
    server_fd_ = s;
    char buf[65536];
    for (;;) {
      pollfd p[2] = {{c, POLLIN, 0}, {s, POLLIN, 0}};
      if (::poll(p, 2, 200) < 0) break;
      if (client_fd_ < 0) break;
      bool done = false;
      for (int i = 0; i < 2 && !done; ++i) {
        if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        ssize_t n = ::recv(p[i].fd, buf, sizeof(buf), 0);
        if (n <= 0 || ::send(p[1 - i].fd, buf, static_cast<size_t>(n), MSG_NOSIGNAL) < 0)
          done = true;
      }
      if (done) break;
    }
    Sever();
    ::close(c);
    ::close(s);
  }
}

}  // namespace kdbg::testing
