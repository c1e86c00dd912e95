// A minimal HTTP/1.0 GET over a plain socket, reporting the client's local port so tests can match
// it with the `r.RemoteAddr` a tracepoint printed.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace kdbg::testing {

struct HttpResult {
  int status = 0;
  std::string body;
  int local_port = 0;  // the ephemeral port the request came from
};

absl::StatusOr<HttpResult> HttpGet(const std::string& host, int port, const std::string& path = "/",
                                   absl::Duration timeout = absl::Seconds(5));

// Polls until GET / answers 200 or `timeout` passes.
absl::Status WaitForHttp(const std::string& host, int port, absl::Duration timeout);

}  // namespace kdbg::testing
