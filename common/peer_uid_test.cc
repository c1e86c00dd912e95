// LoopbackPeerUid against real loopback connections: the caller's own, and one made by a child
// process running as another UID (root only: changing UID needs it).
#include "common/peer_uid.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/fd.h"
#include "gtest/gtest.h"
#include "tests/support/test_env.h"

namespace kdbg {
namespace {

constexpr uid_t kNobody = 65534;

// Connects to 127.0.0.1:`port` from a new socket; -1 on failure.
int ConnectLoopback(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return -1;
  return fd;
}

TEST(PeerUidTest, OwnConnectionIsOwnUid) {
  int port = 0;
  UniqueFd listener(testing::ListenLoopback(&port));
  ASSERT_TRUE(listener.valid());
  UniqueFd client(ConnectLoopback(port));
  ASSERT_TRUE(client.valid());
  UniqueFd accepted(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
  ASSERT_TRUE(accepted.valid());
  absl::StatusOr<uid_t> uid = LoopbackPeerUid(accepted.get());
  ASSERT_TRUE(uid.ok()) << uid.status();
  EXPECT_EQ(*uid, ::geteuid());
}

TEST(PeerUidTest, AnotherUsersConnectionIsTheirUid) {
  KDBG_REQUIRE_REAL(::geteuid() == 0, "root (a child connects as UID 65534)");
  int port = 0;
  UniqueFd listener(testing::ListenLoopback(&port));
  ASSERT_TRUE(listener.valid());
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // Only async-signal-safe calls here: become nobody, connect, wait for the parent to close.
    if (::setresgid(kNobody, kNobody, kNobody) != 0 ||
        ::setresuid(kNobody, kNobody, kNobody) != 0) {
      ::_exit(2);
    }
    int fd = ConnectLoopback(port);
    if (fd < 0) ::_exit(3);
    char c;
    (void)::read(fd, &c, 1);
    ::_exit(0);
  }
  UniqueFd accepted(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
  ASSERT_TRUE(accepted.valid());
  absl::StatusOr<uid_t> uid = LoopbackPeerUid(accepted.get());
  accepted.Reset();
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child status " << status;
  ASSERT_TRUE(uid.ok()) << uid.status();
  EXPECT_EQ(*uid, kNobody);
}

TEST(PeerUidTest, NotATcpSocketIsRefused) {
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  UniqueFd r(fds[0]), w(fds[1]);
  EXPECT_TRUE(absl::IsFailedPrecondition(LoopbackPeerUid(r.get()).status()));
}

}  // namespace
}  // namespace kdbg
