// Ctrl-C handling with a self-pipe: the signal handler only write()s the signal number into a
// non-blocking pipe (async-signal-safe); everything else happens on ordinary threads that poll the
// read end. Commands take that read end as an int, so tests drive them with any pipe.
#pragma once

#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/fd.h"

namespace kdbg::cli {

class InterruptPipe {
 public:
  // Installs handlers for `signals` (SIGINT, SIGTERM) that write to the pipe, and ignores SIGPIPE.
  // At most one per process; the handlers stay installed until the process exits.
  static absl::StatusOr<std::unique_ptr<InterruptPipe>> Install(const std::vector<int>& signals);
  int read_fd() const { return read_.get(); }

 private:
  InterruptPipe(UniqueFd r, UniqueFd w) : read_(std::move(r)), write_(std::move(w)) {}
  UniqueFd read_;
  UniqueFd write_;
};

// Waits up to `timeout` for one byte on `fd`; returns it (the signal number, consumed) or 0 when
// none came. fd < 0 never interrupts.
int WaitInterrupt(int fd, absl::Duration timeout);

}  // namespace kdbg::cli
