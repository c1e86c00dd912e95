// A ProcReader over processes held in memory, for unit tests that need no /proc at all (the safe
// end's SIGTRAP drain, recovery's scan). For the resolver's scenarios, recorded trees on disk read
// by the real reader are closer to the truth (agent/resolver/testdata/trees).
//
// Thread-safe: hold `mu` while changing the fields from a test that runs code on other threads.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/proc_reader.h"

namespace kdbg::testing {

// A live, sleeping, untraced process.
inline ProcStatus SleepingStatus() {
  ProcStatus s;
  s.state = 'S';
  return s;
}

struct FakeProcess {
  ProcessInfo info;  // info.pid is set from the map's key
  ProcStatus status = SleepingStatus();
  std::vector<std::string> environ;
};

class FakeProcReader : public ProcReader {
 public:
  mutable absl::Mutex mu;
  std::map<pid_t, FakeProcess> processes;
  // When set, a PID missing from `processes` still exists with this status (tests that watch one
  // target and do not care about its other files).
  std::optional<ProcStatus> any_pid_status = SleepingStatus();
  // SigtrapPending answers true this many times, then false.
  int sigtrap_checks_left_pending = 0;
  // Files for ReadFile, by relative path ("sys/kernel/yama/ptrace_scope").
  std::map<std::string, std::string> files;
  // Memory for ReadMemory: regions by {pid, start address}.
  std::map<std::pair<pid_t, uint64_t>, std::string> memory;

  const std::string& root() const override { return root_; }

  std::vector<pid_t> ListPids() override {
    absl::MutexLock l(&mu);
    std::vector<pid_t> out;
    for (const auto& [pid, p] : processes) out.push_back(pid);
    return out;
  }

  absl::Status ScanCgroups(const std::function<void(pid_t, absl::string_view)>& fn) override {
    std::map<pid_t, std::string> cgroups;
    {
      absl::MutexLock l(&mu);
      for (const auto& [pid, p] : processes) cgroups[pid] = p.info.cgroup;
    }
    for (const auto& [pid, text] : cgroups) {
      if (!text.empty()) fn(pid, text);
    }
    return absl::OkStatus();
  }

  absl::StatusOr<ProcessInfo> Inspect(pid_t pid) override {
    absl::MutexLock l(&mu);
    auto it = processes.find(pid);
    if (it == processes.end()) return Gone(pid);
    ProcessInfo info = it->second.info;
    info.pid = pid;
    info.ppid = it->second.status.ppid;
    info.state = it->second.status.state;
    info.tracer_pid = it->second.status.tracer_pid;
    info.nspid = it->second.status.nspid;
    return info;
  }

  absl::StatusOr<ProcStatus> Status(pid_t pid) override {
    absl::MutexLock l(&mu);
    auto it = processes.find(pid);
    if (it != processes.end()) return it->second.status;
    if (any_pid_status) return *any_pid_status;
    return Gone(pid);
  }

  absl::StatusOr<bool> SigtrapPending(pid_t pid) override {
    absl::MutexLock l(&mu);
    if (processes.count(pid) == 0 && !any_pid_status) return Gone(pid);
    if (sigtrap_checks_left_pending > 0) {
      --sigtrap_checks_left_pending;
      return true;
    }
    return false;
  }

  absl::StatusOr<uint64_t> StartTicks(pid_t pid) override {
    absl::MutexLock l(&mu);
    auto it = processes.find(pid);
    if (it != processes.end()) return it->second.info.start_time_ticks;
    if (any_pid_status) return uint64_t{1};
    return Gone(pid);
  }

  absl::StatusOr<std::vector<std::string>> Cmdline(pid_t pid) override {
    absl::MutexLock l(&mu);
    auto it = processes.find(pid);
    if (it != processes.end()) return it->second.info.cmdline;
    if (any_pid_status) return std::vector<std::string>{};
    return Gone(pid);
  }

  absl::StatusOr<std::vector<std::string>> Environ(pid_t pid) override {
    absl::MutexLock l(&mu);
    auto it = processes.find(pid);
    if (it != processes.end()) return it->second.environ;
    if (any_pid_status) return std::vector<std::string>{};
    return Gone(pid);
  }

  std::string ExePath(pid_t pid) const override { return absl::StrCat(root_, "/", pid, "/exe"); }

  absl::StatusOr<std::string> ReadFile(absl::string_view relative) const override {
    absl::MutexLock l(&mu);
    auto it = files.find(std::string(relative));
    if (it == files.end()) return absl::NotFoundError(absl::StrCat("open ", root_, "/", relative));
    return it->second;
  }

  absl::StatusOr<std::string> ReadMemory(pid_t pid, uint64_t address, size_t n) const override {
    absl::MutexLock l(&mu);
    for (const auto& [key, bytes] : memory) {
      if (key.first == pid && address >= key.second && address - key.second + n <= bytes.size()) {
        return bytes.substr(address - key.second, n);
      }
    }
    return absl::OutOfRangeError(absl::StrCat("pid ", pid, ": ", n, " bytes at 0x",
                                              absl::Hex(address), " are not readable"));
  }

 private:
  static absl::Status Gone(pid_t pid) {
    return absl::NotFoundError(absl::StrCat("process ", pid, " is gone"));
  }
  std::string root_ = "/fake/proc";
};

}  // namespace kdbg::testing
