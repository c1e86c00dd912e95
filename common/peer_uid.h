// Who is at the other end of a TCP connection accepted on a loopback address: the UID that owns
// the connecting socket, asked of the kernel by sock_diag (NETLINK_SOCK_DIAG, one
// SOCK_DIAG_BY_FAMILY request for exactly that connection's addresses and ports: the lookup
// `ss -tnpe` makes), never by scanning /proc/net/tcp, which takes long on a host with many
// sockets (Delve's own same-user check, which scans it, fails there: docs/delve-engine.md).
//
// Request (linux/inet_diag.h): inet_diag_req_v2 {sdiag_family AF_INET, sdiag_protocol
// IPPROTO_TCP, idiag_states all, id {idiag_sport, idiag_dport, idiag_src, idiag_dst} = the
// connecting socket's own port, the listener's port, and their addresses; cookie
// INET_DIAG_NOCOOKIE}. Reply: one inet_diag_msg whose idiag_uid is that socket's owner, or an
// NLMSG_ERROR (ENOENT: no such socket here, e.g. the peer is on another host).
#pragma once

#include <sys/types.h>

#include "absl/status/statusor.h"

namespace kdbg {

// The UID owning the peer socket of `accepted_fd` (an IPv4 TCP connection whose peer is on this
// host and in this network namespace).
//   FailedPrecondition  not an IPv4 TCP socket
//   NotFound            no local socket is the peer (a remote host)
//   Unavailable         sock_diag could not be asked (its errno)
absl::StatusOr<uid_t> LoopbackPeerUid(int accepted_fd);

}  // namespace kdbg
