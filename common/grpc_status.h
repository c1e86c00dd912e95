// The one mapping between absl::Status and grpc::Status, used at every gRPC edge (agent service,
// controller, CLI). The canonical codes are the same numbers on both sides (OK = 0 ...
// UNAUTHENTICATED = 16), so the code maps one to one and the message is kept verbatim.
//
// A status made by ToGrpcStatus carries kAnsweredByKdbg as its error details (sent in the
// grpc-status-details-bin trailer), so a client tells an answer of a kdbg server (the controller's
// "no ready agent on node X" is UNAVAILABLE too) from a transport failure (nothing reached, or
// the connection broke), which gRPC also reports as UNAVAILABLE with no details.
#pragma once

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace kdbg {

inline constexpr char kAnsweredByKdbg[] = "kdbg";

grpc::Status ToGrpcStatus(const absl::Status& status);
// True when a kdbg server produced `status` (see above).
bool AnsweredByKdbg(const grpc::Status& status);
absl::Status FromGrpcStatus(const grpc::Status& status);
absl::StatusCode FromGrpcCode(grpc::StatusCode code);

}  // namespace kdbg
