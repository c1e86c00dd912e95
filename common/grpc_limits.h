// The size bound of every gRPC message kdbg receives, on every server (agent, controller) and
// every channel (controller -> agent, CLI -> controller), set explicitly so that neither a library
// default nor a forgotten builder can raise it. A larger message is refused by gRPC itself with
// RESOURCE_EXHAUSTED ("Received message larger than max") before any handler runs.
//
// The largest legitimate messages, all well under it: a debug-binary chunk (1 MiB,
// kUploadChunkBytes in cli/command_util.h), a tunnel frame (StreamPump::kReadSize, 64 KiB), a trace
// request (its script is at most script::kMaxScriptBytes, 64 KiB).
#pragma once

#include <cstddef>

namespace grpc {
class ServerBuilder;
class ChannelArguments;
}  // namespace grpc

namespace kdbg {

inline constexpr int kMaxGrpcMessageBytes = 4 << 20;  // 4 MiB

// Sets the receive and send caps on a server / a channel.
void ApplyGrpcLimits(grpc::ServerBuilder* builder);
void ApplyGrpcLimits(grpc::ChannelArguments* args);

}  // namespace kdbg
