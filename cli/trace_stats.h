// `kdbg trace ... --stats`: a live view of a trace session instead of one line per hit.
//
// On a terminal the block is redrawn in place every second (the cursor goes back up over the
// previous block, ANSI "\x1b[<N>A\x1b[J"); otherwise the same block is printed as plain lines every
// few seconds, and once more at the end:
//
//   kdbg stats: engine ebpf, 12s, 1234 hits, target CPU ~0.17 ms/s (est., ~1.7us per hit)
//   TRACEPOINT    HITS/S   HITS   FUNCTION
//   handleSlash   102.4    1234   main.handleSlash
//     r.RemoteAddr   "127.0.0.1:53422" 3 | "127.0.0.1:53423" 2 | "127.0.0.1:53424" 2 | (41 more)
// (Delve: "target stopped ~102.4 ms/s (est., ~1ms per hit)".)
//
// HITS/S is over the last 5 seconds. Top values: per printed expression (`on .. print`, --print),
// or per argument when the tracepoint prints nothing, the 3 most frequent, counted over at most
// kMaxDistinctValues distinct values per expression (later new values count as "other").
// The overhead estimate is hits/s times the engine's measured cost of one hit: Delve stops the
// target about kDelveHitCost per hit (docs/delve-engine.md), the eBPF engine's uprobe costs about
// kEbpfHitCost of the hitting thread (docs/ebpf-engine.md, "cost per hit").
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"

#include "absl/time/time.h"
#include "kdbg/v1/types.pb.h"

namespace kdbg::cli {

inline constexpr absl::Duration kDelveHitCost = absl::Milliseconds(1);
inline constexpr absl::Duration kEbpfHitCost = absl::Nanoseconds(1700);
inline constexpr size_t kMaxDistinctValues = 1000;
inline constexpr int kTopValues = 3;
inline constexpr absl::Duration kRateWindow = absl::Seconds(5);

class TraceStats {
 public:
  explicit TraceStats(absl::Time start) : start_(start) {}

  void OnArmed(const kdbg::v1::ArmedEvent& armed);
  void OnHit(const kdbg::v1::HitEvent& hit, absl::Time now);

  int64_t hits() const { return hits_; }
  // The block (each line ends with '\n').
  std::string Render(absl::Time now) const;

 private:
  struct Values {
    std::map<std::string, int64_t> counts;
    int64_t other = 0;
  };
  struct Point {
    std::string function;
    int64_t hits = 0;
    std::map<int64_t, int64_t> per_second;  // unix second -> hits, the last few seconds only
    std::vector<std::string> expressions;   // in first-seen order
    std::map<std::string, Values> values;
  };
  Point& PointFor(const std::string& name);
  double Rate(const Point& p, absl::Time now) const;

  absl::Time start_;
  std::string engine_;
  int64_t hits_ = 0;
  std::vector<std::string> order_;  // tracepoints as armed, then as first hit
  std::map<std::string, Point> points_;
};

// Redraws `block` over `previous_lines` lines printed before (0: nothing yet) on a terminal.
std::string RedrawInPlace(const std::string& block, int previous_lines);

}  // namespace kdbg::cli

namespace kdbg::cli::internal {
class Console;
// Runs the --stats view of one trace command: Feed() takes the stream's events (hits are counted,
// not printed; everything else prints as usual), a thread redraws every `interval` (terminal) or
// prints the block every 5 intervals (not a terminal), Finish() stops it and prints the last block.
class StatsPrinter {
 public:
  StatsPrinter(Console& console, bool terminal, absl::Duration interval = absl::Seconds(1));
  ~StatsPrinter();
  StatsPrinter(const StatsPrinter&) = delete;
  StatsPrinter& operator=(const StatsPrinter&) = delete;
  // True when the event was taken (a hit); false: print it as usual.
  bool Feed(const kdbg::v1::Event& event);
  void Finish();

 private:
  void Loop();
  void Draw(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  Console& console_;
  const bool terminal_;
  const absl::Duration interval_;
  absl::Mutex mu_;
  TraceStats stats_ ABSL_GUARDED_BY(mu_);
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  int drawn_lines_ ABSL_GUARDED_BY(mu_) = 0;
  std::thread thread_;
};
}  // namespace kdbg::cli::internal
