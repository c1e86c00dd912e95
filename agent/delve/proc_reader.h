// What the Delve engine reads from /proc, behind an interface rooted at a configurable directory
// (tests point it at a fake tree or use testing/fake_proc.h).
//
// Formats parsed (Linux 6.x):
//   /proc/PID/status:  "State:\tS (sleeping)", "TracerPid:\t0", "ShdPnd:\t0000000000000010",
//                      "SigPnd:\t0000000000000000" (per thread in /proc/PID/task/TID/status)
//   /proc/PID/stat:    "4242 (hello world) S 1 ... " field 22 = start time in clock ticks; the
//                      command may hold spaces and parentheses, so fields are counted after the
//                      last ')'.
//   /proc/PID/cmdline, /proc/PID/environ: NUL-separated.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace kdbg::delve {

struct ProcState {
  char state = '?';  // R S D T t Z X
  pid_t ppid = 0;    // "PPid:"
  pid_t tracer_pid = 0;
  uint64_t shd_pnd = 0;  // shared pending signals, bit (signo-1)
  uint64_t sig_pnd = 0;  // this thread's pending signals
  bool stopped() const { return state == 'T' || state == 't'; }
  bool zombie() const { return state == 'Z' || state == 'X'; }
};

constexpr uint64_t kSigtrapBit = 1ull << (5 - 1);  // SIGTRAP = 5: 0x10

// Pure parsers (exposed for tests).
absl::StatusOr<ProcState> ParseProcStatus(absl::string_view text);
absl::StatusOr<uint64_t> ParseStartTicks(absl::string_view stat);

class ProcReader {
 public:
  virtual ~ProcReader() = default;
  // NotFound when the process is gone.
  virtual absl::StatusOr<ProcState> Status(pid_t pid) = 0;
  // True when SIGTRAP is pending for the process (ShdPnd) or any of its threads (SigPnd).
  virtual absl::StatusOr<bool> SigtrapPending(pid_t pid) = 0;
  virtual absl::StatusOr<uint64_t> StartTicks(pid_t pid) = 0;
  virtual absl::StatusOr<std::vector<std::string>> Cmdline(pid_t pid) = 0;
  virtual absl::StatusOr<std::vector<std::string>> Environ(pid_t pid) = 0;
  virtual std::vector<pid_t> ListPids() = 0;
  // A path that opens the process's executable (the /proc/PID/exe magic link).
  virtual std::string ExePath(pid_t pid) = 0;
};

class RealProcReader final : public ProcReader {
 public:
  explicit RealProcReader(std::string proc_root = "/proc") : root_(std::move(proc_root)) {}
  absl::StatusOr<ProcState> Status(pid_t pid) override;
  absl::StatusOr<bool> SigtrapPending(pid_t pid) override;
  absl::StatusOr<uint64_t> StartTicks(pid_t pid) override;
  absl::StatusOr<std::vector<std::string>> Cmdline(pid_t pid) override;
  absl::StatusOr<std::vector<std::string>> Environ(pid_t pid) override;
  std::vector<pid_t> ListPids() override;
  std::string ExePath(pid_t pid) override;

 private:
  std::string root_;
};

}  // namespace kdbg::delve
