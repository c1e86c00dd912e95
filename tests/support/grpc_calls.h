// Helpers for tests that drive gRPC streams with the synchronous client API.
#pragma once

#include "grpcpp/client_context.h"
#include "grpcpp/support/sync_stream.h"

namespace kdbg::testing {

// Cancels the call of `ctx`, reads (and drops) whatever the server still sent, and returns the
// call's final status: the end of a session as a client that goes away makes it.
template <typename R>
grpc::Status CancelAndDrain(grpc::ClientContext* ctx, grpc::ClientReaderInterface<R>* reader) {
  ctx->TryCancel();
  R message;
  while (reader->Read(&message)) {
  }
  return reader->Finish();
}

}  // namespace kdbg::testing
