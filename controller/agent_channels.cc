#include "controller/agent_channels.h"

#include "common/grpc_limits.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/support/channel_arguments.h"

namespace kdbg::controller {

std::shared_ptr<grpc::Channel> AgentChannels::Channel(const std::string& address) {
  absl::MutexLock lock(&mu_);
  auto it = channels_.find(address);
  if (it != channels_.end()) return it->second;
  grpc::ChannelArguments args;
  if (!server_name_.empty()) args.SetSslTargetNameOverride(server_name_);
  ApplyGrpcLimits(&args);
  // Fail fast when an agent is down instead of waiting for it to come back.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 200);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2000);
  // A connect attempt gives up after 5 s (gRPC's default: 20 s). One begun while the agent was cut
  // off would otherwise fail every call for up to 20 s after the link is back.
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 5000);
  auto channel = grpc::CreateCustomChannel(address, creds_, args);
  channels_[address] = channel;
  return channel;
}

}  // namespace kdbg::controller
