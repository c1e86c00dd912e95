// Connecting to a stream server on this host by address: one parser for every address form kdbg
// hands around for Delve's headless server (DebugSession::delve_address, the command line a
// recovered Delve was started with):
//
//   "unix:/var/lib/kdbg-agent/delve/0123456789abcdef.sock"  a Unix domain socket (Delve's own
//                                                           syntax: `dlv --listen=unix:PATH`)
//   "127.0.0.1:4242"                                        IPv4 address and port
//   "[::1]:4242"                                            IPv6 address and port
//
// Host names are not resolved. TCP connections get TCP_NODELAY (Delve's JSON-RPC is one small
// request and reply at a time).
#pragma once

#include <cstddef>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/fd.h"

namespace kdbg {

// The longest path a Unix socket address can hold (sockaddr_un.sun_path, less its NUL): 107 on
// Linux.
size_t MaxUnixSocketPath();

// OK when `path` fits a Unix socket address; else InvalidArgument naming the path and the limit.
absl::Status CheckUnixSocketPath(absl::string_view path);

// A connected, blocking socket (close-on-exec) to `address`. `send_timeout` > 0 is set as
// SO_SNDTIMEO, which also bounds a connect(2) that blocks.
//   InvalidArgument  not one of the forms above, or a Unix path too long
//   Unavailable      nothing accepts there ("connect to ADDRESS: Connection refused")
absl::StatusOr<UniqueFd> ConnectStream(absl::string_view address, absl::Duration send_timeout);

// Whether a server accepts connections on the Unix socket at `path`: false only when nobody
// listens there (connect(2) answers ECONNREFUSED: a socket file left by a killed server, or not a
// socket at all; or ENOENT); true otherwise, including a server too busy to accept at once.
bool UnixSocketServed(absl::string_view path);

}  // namespace kdbg
