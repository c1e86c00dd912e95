// TcpProxy: a loopback TCP forwarder between a test's client and a server, to break the link the
// ways networks break it:
//   Sever()   closes both sides at once: each end reads EOF (a peer that went away, FIN);
//   Freeze()  carries nothing more either way and tells neither side (no FIN, no RST, the sockets
//             stay open): a network cut, a node lost, a laptop's VPN dropped. Only a timeout of
//             the ends themselves (keepalive) can tell.
// It forwards one connection at a time; connections made while one is forwarded wait in the
// listen backlog (after Freeze, for good: their handshakes go unanswered, as across a cut).
#pragma once

#include <atomic>
#include <thread>

namespace kdbg::testing {

class TcpProxy {
 public:
  explicit TcpProxy(int target_port);
  ~TcpProxy();
  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;

  int port() const { return port_; }
  void Sever();
  void Freeze();

 private:
  void Run();
  int target_port_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<bool> frozen_{false};
  std::atomic<int> client_fd_{-1};
  std::atomic<int> server_fd_{-1};
  std::thread thread_;
};

}  // namespace kdbg::testing
