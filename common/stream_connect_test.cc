// ConnectStream against real listeners of each address form it accepts, and the addresses it
// refuses before any socket is made.
#include "common/stream_connect.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include "gtest/gtest.h"
#include "tests/support/test_env.h"

namespace kdbg {
namespace {

// Accepts one connection on `listener` and checks a byte goes through it both ways.
void ExpectConnected(int listener, UniqueFd& client) {
  UniqueFd peer(::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC));
  ASSERT_TRUE(peer.valid()) << std::strerror(errno);
  ASSERT_EQ(::write(client.get(), "q", 1), 1);
  char c = 0;
  ASSERT_EQ(::read(peer.get(), &c, 1), 1);
  EXPECT_EQ(c, 'q');
  ASSERT_EQ(::write(peer.get(), "r", 1), 1);
  ASSERT_EQ(::read(client.get(), &c, 1), 1);
  EXPECT_EQ(c, 'r');
}

// A Unix socket listening at `path` (invalid if it cannot be made).
UniqueFd ListenUnix(const std::string& path) {
  UniqueFd listener(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un un{};
  un.sun_family = AF_UNIX;
  std::strncpy(un.sun_path, path.c_str(), sizeof(un.sun_path) - 1);
  if (::bind(listener.get(), reinterpret_cast<sockaddr*>(&un), sizeof(un)) != 0 ||
      ::listen(listener.get(), 4) != 0) {
    listener.Reset();
  }
  return listener;
}

TEST(StreamConnectTest, ConnectsToAUnixSocket) {
  std::string dir = testing::MakeTempDir("stream-connect");
  std::string path = dir + "/d.sock";
  UniqueFd listener = ListenUnix(path);
  ASSERT_TRUE(listener.valid()) << std::strerror(errno);

  absl::StatusOr<UniqueFd> fd = ConnectStream("unix:" + path, absl::Seconds(5));
  ASSERT_TRUE(fd.ok()) << fd.status();
  ExpectConnected(listener.get(), *fd);
  std::filesystem::remove_all(dir);
}

TEST(StreamConnectTest, ConnectsToIpv4AndIpv6Loopback) {
  int port = 0;
  UniqueFd v4(testing::ListenLoopback(&port));
  ASSERT_TRUE(v4.valid());
  absl::StatusOr<UniqueFd> fd =
      ConnectStream("127.0.0.1:" + std::to_string(port), absl::Seconds(5));
  ASSERT_TRUE(fd.ok()) << fd.status();
  ExpectConnected(v4.get(), *fd);
  int nodelay = 0;
  socklen_t len = sizeof(nodelay);
  ASSERT_EQ(::getsockopt(fd->get(), IPPROTO_TCP, TCP_NODELAY, &nodelay, &len), 0);
  EXPECT_NE(nodelay, 0);

  UniqueFd v6(::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in6 a6{};
  a6.sin6_family = AF_INET6;
  a6.sin6_addr = in6addr_loopback;
  ASSERT_EQ(::bind(v6.get(), reinterpret_cast<sockaddr*>(&a6), sizeof(a6)), 0)
      << "[::1]: " << std::strerror(errno);
  ASSERT_EQ(::listen(v6.get(), 4), 0);
  socklen_t a6_len = sizeof(a6);
  ASSERT_EQ(::getsockname(v6.get(), reinterpret_cast<sockaddr*>(&a6), &a6_len), 0);
  fd = ConnectStream("[::1]:" + std::to_string(ntohs(a6.sin6_port)), absl::Seconds(5));
  ASSERT_TRUE(fd.ok()) << fd.status();
  ExpectConnected(v6.get(), *fd);
}

TEST(StreamConnectTest, UnixSocketServedOnlyWhileSomethingListens) {
  std::string dir = testing::MakeTempDir("stream-connect");
  std::string path = dir + "/d.sock";
  {
    UniqueFd listener = ListenUnix(path);
    ASSERT_TRUE(listener.valid()) << std::strerror(errno);
    EXPECT_TRUE(UnixSocketServed(path));
  }
  // The listener closed; its socket file stays (as a killed server's does).
  ASSERT_TRUE(std::filesystem::is_socket(path));
  EXPECT_FALSE(UnixSocketServed(path));
  std::ofstream(dir + "/file.sock") << "";
  EXPECT_FALSE(UnixSocketServed(dir + "/file.sock"));
  EXPECT_FALSE(UnixSocketServed(dir + "/none.sock"));
  std::filesystem::remove_all(dir);
}

TEST(StreamConnectTest, NothingListeningIsUnavailable) {
  std::string dir = testing::MakeTempDir("stream-connect");
  absl::StatusOr<UniqueFd> fd = ConnectStream("unix:" + dir + "/none.sock", absl::Seconds(1));
  EXPECT_TRUE(absl::IsUnavailable(fd.status())) << fd.status();
  EXPECT_NE(fd.status().message().find("none.sock: No such file or directory"), std::string::npos)
      << fd.status();
  int port = testing::FreePort();
  fd = ConnectStream("127.0.0.1:" + std::to_string(port), absl::Seconds(1));
  EXPECT_TRUE(absl::IsUnavailable(fd.status())) << fd.status();
  EXPECT_NE(fd.status().message().find("Connection refused"), std::string::npos) << fd.status();
  std::filesystem::remove_all(dir);
}

TEST(StreamConnectTest, RefusesMalformedAddressesAndOverlongPaths) {
  for (const char* bad : {"", "localhost:80", "127.0.0.1", "127.0.0.1:", "127.0.0.1:http",
                          "127.0.0.1:0", "127.0.0.1:70000", "[::1:80", "[nope]:80", "unix:"}) {
    absl::StatusOr<UniqueFd> fd = ConnectStream(bad, absl::Seconds(1));
    EXPECT_TRUE(absl::IsInvalidArgument(fd.status())) << bad << ": " << fd.status();
  }
  std::string longest = "/" + std::string(MaxUnixSocketPath() - 1, 'x');
  EXPECT_EQ(MaxUnixSocketPath(), 107u);
  EXPECT_TRUE(CheckUnixSocketPath(longest).ok());
  absl::Status over = CheckUnixSocketPath(longest + "x");
  EXPECT_TRUE(absl::IsInvalidArgument(over));
  EXPECT_NE(over.message().find("is 108 bytes, over the 107"), std::string::npos) << over;
  EXPECT_TRUE(
      absl::IsInvalidArgument(ConnectStream("unix:" + longest + "x", absl::Seconds(1)).status()));
}

}  // namespace
}  // namespace kdbg
