#include "common/peer_uid.h"

#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/fd.h"
#include "common/status.h"

namespace kdbg {

absl::StatusOr<uid_t> LoopbackPeerUid(int accepted_fd) {
  sockaddr_in local{}, peer{};
  socklen_t local_len = sizeof local, peer_len = sizeof peer;
  if (::getsockname(accepted_fd, reinterpret_cast<sockaddr*>(&local), &local_len) != 0 ||
      ::getpeername(accepted_fd, reinterpret_cast<sockaddr*>(&peer), &peer_len) != 0 ||
      local.sin_family != AF_INET || peer.sin_family != AF_INET) {
    return absl::FailedPreconditionError("not a connected IPv4 TCP socket");
  }
  UniqueFd nl(::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG));
  if (!nl.valid())
    return absl::UnavailableError(ErrnoToStatus(errno, "sock_diag socket").message());
  timeval tv{2, 0};  // the kernel answers at once; bound a reply that never comes
  ::setsockopt(nl.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);

  struct {
    nlmsghdr nlh;
    inet_diag_req_v2 req;
  } msg{};
  msg.nlh.nlmsg_len = sizeof msg;
  msg.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  msg.nlh.nlmsg_flags = NLM_F_REQUEST;
  msg.nlh.nlmsg_seq = 1;
  msg.req.sdiag_family = AF_INET;
  msg.req.sdiag_protocol = IPPROTO_TCP;
  msg.req.idiag_states = ~0U;
  // The connecting socket: its local end is our peer, its remote end our local address.
  msg.req.id.idiag_sport = peer.sin_port;
  msg.req.id.idiag_dport = local.sin_port;
  msg.req.id.idiag_src[0] = peer.sin_addr.s_addr;
  msg.req.id.idiag_dst[0] = local.sin_addr.s_addr;
  msg.req.id.idiag_cookie[0] = INET_DIAG_NOCOOKIE;
  msg.req.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (::sendto(nl.get(), &msg, sizeof msg, 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel) <
      0) {
    return absl::UnavailableError(ErrnoToStatus(errno, "sock_diag request").message());
  }
  alignas(nlmsghdr) char buf[8192];
  ssize_t got = ::recv(nl.get(), buf, sizeof buf, 0);
  if (got < 0) return absl::UnavailableError(ErrnoToStatus(errno, "sock_diag reply").message());
  // Netlink messages, each a header padded to 4 bytes and its payload, padded to 4 bytes.
  constexpr size_t kHeader = (sizeof(nlmsghdr) + 3) & ~size_t{3};
  const size_t len = static_cast<size_t>(got);
  for (size_t at = 0; at + kHeader <= len;) {
    nlmsghdr h;
    std::memcpy(&h, buf + at, sizeof h);
    if (h.nlmsg_len < kHeader || at + h.nlmsg_len > len) break;
    const char* payload = buf + at + kHeader;
    const size_t payload_len = h.nlmsg_len - kHeader;
    if (h.nlmsg_type == NLMSG_ERROR && payload_len >= sizeof(nlmsgerr)) {
      nlmsgerr err;
      std::memcpy(&err, payload, sizeof err);
      if (err.error == -ENOENT) {
        return absl::NotFoundError("the connection does not come from a socket on this host");
      }
      return absl::UnavailableError(absl::StrCat("sock_diag: ", std::strerror(-err.error)));
    }
    if (h.nlmsg_type == SOCK_DIAG_BY_FAMILY && payload_len >= sizeof(inet_diag_msg)) {
      inet_diag_msg m;
      std::memcpy(&m, payload, sizeof m);
      return static_cast<uid_t>(m.idiag_uid);
    }
    at += (h.nlmsg_len + 3) & ~uint32_t{3};
  }
  return absl::UnavailableError("sock_diag: no answer for the connection");
}

}  // namespace kdbg
