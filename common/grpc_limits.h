// The size bound of every gRPC message kdbg receives, on every server (agent, controller) and
// every channel (controller -> agent, CLI -> controller), set explicitly so that neither a library
// default nor a forgotten builder can raise it. A larger message is refused by gRPC itself with
// RESOURCE_EXHAUSTED ("Received message larger than max") before any handler runs.
//
// The largest legitimate messages, all well under it: a debug-binary chunk (1 MiB,
// kUploadChunkBytes in cli/command_util.h), a tunnel frame (StreamPump::kReadSize, 64 KiB), a trace
// request (its script is at most script::kMaxScriptBytes, 64 KiB).
//
// The same calls set HTTP/2 keepalive on both ends of every connection, so that a peer gone without
// a word (a network cut, a node lost, a laptop's VPN dropped: no FIN, no RST) is noticed within
// kKeepaliveTime + kKeepaliveTimeout, not at the lease's end: each side PINGs every kKeepaliveTime
// while it has calls open (with or without data in flight, idle attach tunnels included) and
// gives the connection up when no answer comes within kKeepaliveTimeout, which fails its calls.
// An agent whose controller is cut off thus ends the session (the target released) as when the
// controller goes away; the controller ends a cut-off CLI's session the same way; the CLI says
// it lost the controller. Each server accepts its peers' PINGs every kKeepaliveMinPeerInterval
// (gRPC's default, 5 minutes without data, would count our clients' PINGs as abuse).
#pragma once

#include <cstddef>

#include "absl/time/time.h"

namespace grpc {
class ServerBuilder;
class ChannelArguments;
}  // namespace grpc

namespace kdbg {

inline constexpr int kMaxGrpcMessageBytes = 4 << 20;  // 4 MiB
inline constexpr absl::Duration kKeepaliveTime = absl::Seconds(10);
inline constexpr absl::Duration kKeepaliveTimeout = absl::Seconds(10);
inline constexpr absl::Duration kKeepaliveMinPeerInterval = absl::Seconds(5);

// Sets the receive and send caps and the keepalive on a server / a channel.
void ApplyGrpcLimits(grpc::ServerBuilder* builder);
void ApplyGrpcLimits(grpc::ChannelArguments* args);

}  // namespace kdbg
