#include "common/grpc_status.h"

#include <string>

namespace kdbg {

// absl's and gRPC's canonical codes share their numbers; a code outside 0..16 (never produced by
// either library) becomes UNKNOWN rather than an out-of-range enum.
absl::StatusCode FromGrpcCode(grpc::StatusCode code) {
  int c = static_cast<int>(code);
  return c >= 0 && c <= 16 ? static_cast<absl::StatusCode>(c) : absl::StatusCode::kUnknown;
}

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  int c = static_cast<int>(status.code());
  grpc::StatusCode code =
      c >= 0 && c <= 16 ? static_cast<grpc::StatusCode>(c) : grpc::StatusCode::UNKNOWN;
  return grpc::Status(code, std::string(status.message()), kAnsweredByKdbg);
}

bool AnsweredByKdbg(const grpc::Status& status) {
  return !status.ok() && status.error_details() == kAnsweredByKdbg;
}

absl::Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(FromGrpcCode(status.error_code()), status.error_message());
}

}  // namespace kdbg
