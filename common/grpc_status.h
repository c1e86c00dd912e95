// The one mapping between absl::Status and grpc::Status, used at every gRPC edge (agent service,
// controller, CLI). The canonical codes are the same numbers on both sides (OK = 0 ...
// UNAUTHENTICATED = 16), so the code maps one to one and the message is kept verbatim.
#pragma once

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace kdbg {

grpc::Status ToGrpcStatus(const absl::Status& status);
absl::Status FromGrpcStatus(const grpc::Status& status);
absl::StatusCode FromGrpcCode(grpc::StatusCode code);

}  // namespace kdbg
