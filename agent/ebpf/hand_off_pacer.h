// How long the eBPF engine holds a tracepoint's hits before handing them on to the caller's
// stream (each hand-off becomes one message through agent, controller and CLI).
//
// Every message costs those three far more CPU than a hit in it: here ~0.4-1 ms for the three
// together against ~10 us per hit (docs/ebpf-engine.md, "To the CLI"), so a service making
// thousands of traced calls a second would pay a steady share of a core for messages alone at a
// fixed interval. The pacer lengthens the interval in proportion to the rate of hits:
//
//   interval = base                                  up to kBaseRate hits/s
//            = base * rate / kBaseRate               above it
//            = max                                   at most (never below base)
//
// where rate = the hits handed on in the last kRateWindow, per second. At 1,000 hits/s and below
// a hit waits at most `base` (10 ms in the agent); at 5,000/s and above, `max` (50 ms): well
// under what anyone reading the stream can tell apart, at a fifth of the hand-offs a fixed 10 ms
// would make. A hit after a quiet interval still goes at once (EbpfSession::ReleaseDue).
//
// Not thread-safe: the session's own thread owns it.
#pragma once

#include <cstddef>
#include <deque>
#include <utility>

#include "absl/time/time.h"

namespace kdbg::ebpf {

class HandOffPacer {
 public:
  static constexpr double kBaseRate = 1000;  // hits per second at which the interval starts to grow
  static constexpr absl::Duration kRateWindow = absl::Milliseconds(250);

  // `max` below `base` is taken as `base`.
  HandOffPacer(absl::Duration base, absl::Duration max);

  // `hits` were handed on at `now` (times never go backwards).
  void HandedOn(absl::Time now, size_t hits);
  // The interval for hits held at `now`: from the hits handed on within kRateWindow before it.
  absl::Duration Interval(absl::Time now);

 private:
  void Forget(absl::Time now);

  const absl::Duration base_;
  const absl::Duration max_;
  std::deque<std::pair<absl::Time, size_t>> recent_;  // hand-offs within kRateWindow
  size_t recent_hits_ = 0;
};

}  // namespace kdbg::ebpf
