// A small keep-alive HTTP/1.1 load generator: `connections` threads, each with one persistent
// connection sending `GET / HTTP/1.1` back to back for `duration`. Counts complete 200 responses.
#pragma once

#include <string>

#include "absl/time/time.h"

namespace kdbg::bench {

struct LoadResult {
  int64_t requests = 0;
  int64_t errors = 0;
  double seconds = 0;
  double rps() const { return seconds > 0 ? static_cast<double>(requests) / seconds : 0; }
};

// `keep_alive` false: every request on a new connection (`Connection: close`, then closed), as
// load generators without keep-alive (`ab` without -k) send it: the server pays accept, a new
// goroutine and the socket's teardown per request, about 10x the CPU of a keep-alive request here.
LoadResult RunLoad(const std::string& host, int port, int connections, absl::Duration duration,
                   bool keep_alive = true);

}  // namespace kdbg::bench
