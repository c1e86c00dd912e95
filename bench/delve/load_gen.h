// A small keep-alive HTTP/1.1 load generator: `connections` threads, each with one persistent
// connection sending `GET / HTTP/1.1` back to back for `duration`. Counts complete 200 responses.
#pragma once

#include <string>
#include <vector>

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

// A run made of several loads back to back (how a long session's rate changes): Run() makes
// `segments` RunLoad()s of `duration` each, keeps each one's req/s by segment and returns their
// sum; Medians() is each segment's median over the runs.
class SegmentedLoad {
 public:
  explicit SegmentedLoad(int segments) : rps_(static_cast<size_t>(segments < 1 ? 1 : segments)) {}
  LoadResult Run(const std::string& host, int port, int connections, absl::Duration duration,
                 bool keep_alive);
  std::vector<double> Medians() const;
  int segments() const { return static_cast<int>(rps_.size()); }

 private:
  std::vector<std::vector<double>> rps_;  // [segment][run]
};

}  // namespace kdbg::bench
