#include "tests/support/tcp_proxy.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "common/stream_connect.h"
#include "tests/support/test_env.h"  // ListenLoopback

namespace kdbg::testing {

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

void TcpProxy::Freeze() { frozen_ = true; }

void TcpProxy::Run() {
  while (!stop_) {
    int c = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) return;
    // Blocking and without a send timeout, as the ends' own sockets: the proxy adds no failure.
    absl::StatusOr<UniqueFd> server =
        ConnectStream(absl::StrCat("127.0.0.1:", target_port_), absl::ZeroDuration());
    if (!server.ok()) {
      ::close(c);
      continue;
    }
    int s = server->Release();
    client_fd_ = c;
    server_fd_ = s;
    char buf[65536];
    for (;;) {
      if (client_fd_ < 0) break;
      if (frozen_) {  // hold both sockets open, read and send nothing, until Sever or the end
        ::usleep(50 * 1000);
        continue;
      }
      pollfd p[2] = {{c, POLLIN, 0}, {s, POLLIN, 0}};
      if (::poll(p, 2, 200) < 0) break;
      if (client_fd_ < 0 || frozen_) continue;
      bool done = false;
      for (int i = 0; i < 2 && !done; ++i) {
        if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        ssize_t n = ::recv(p[i].fd, buf, sizeof(buf), 0);
        done = n <= 0 || ::send(p[1 - i].fd, buf, static_cast<size_t>(n), MSG_NOSIGNAL) < 0;
      }
      if (done) break;
    }
    Sever();
    ::close(c);
    ::close(s);
  }
}

}  // namespace kdbg::testing
