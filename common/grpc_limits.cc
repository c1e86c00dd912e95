#include "common/grpc_limits.h"

#include "grpcpp/server_builder.h"
#include "grpcpp/support/channel_arguments.h"

namespace kdbg {

void ApplyGrpcLimits(grpc::ServerBuilder* builder) {
  builder->SetMaxReceiveMessageSize(kMaxGrpcMessageBytes);
  builder->SetMaxSendMessageSize(kMaxGrpcMessageBytes);
}

void ApplyGrpcLimits(grpc::ChannelArguments* args) {
  args->SetMaxReceiveMessageSize(kMaxGrpcMessageBytes);
  args->SetMaxSendMessageSize(kMaxGrpcMessageBytes);
}

}  // namespace kdbg
