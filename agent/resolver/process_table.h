// The host's process table, behind an interface: the live one (libproc2 over the real /proc) and
// one reading a recorded /proc tree from a directory (tests, `kdbg-agent resolve --proc-root DIR`).
//
// Costs matter: a node may run tens of thousands of processes. Callers scan cgroup files first
// (ScanCgroups: one read per process) and Inspect only the few processes that match.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>
#include "absl/strings/string_view.h"

#include "absl/status/statusor.h"

namespace kdbg::agent {

struct ProcessInfo {
  pid_t pid = 0;
  pid_t ppid = 0;
  uint64_t start_time_ticks = 0;  // /proc/PID/stat field 22
  char state = '?';               // R, S, D, T, t, Z, X, I
  std::string comm;               // /proc/PID/stat field 2, without the parentheses
  std::vector<std::string> cmdline;
  std::string cgroup;        // /proc/PID/cgroup, verbatim
  std::vector<pid_t> nspid;  // "NSpid:" outermost first; the last is the PID in its namespace
  pid_t tracer_pid = 0;      // "TracerPid:"
  std::string exe;           // readlink(/proc/PID/exe); "" when unreadable (kernel thread, EACCES)
};

// Parsers of the real formats; pure.
//   stat:    "4242 (hello world) S 4230 4242 4242 0 -1 4194560 ... 1234567 ..." (comm may hold
//            spaces and parentheses: the last ')' ends it; start time is field 22)
//   status:  "TracerPid:\t0\n" ... "NSpid:\t4242\t1\n"
//   cmdline: NUL-separated arguments, possibly without a trailing NUL
absl::Status ParseStat(absl::string_view text, ProcessInfo* info);
void ParseStatus(absl::string_view text, ProcessInfo* info);
std::vector<std::string> ParseCmdline(absl::string_view text);

class ProcessTable {
 public:
  virtual ~ProcessTable() = default;

  // Calls `fn(pid, cgroup_text)` for every process (not thread) whose cgroup file is readable.
  // Processes that vanish during the scan are skipped. Error only if the table itself is
  // unreadable.
  virtual absl::Status ScanCgroups(const std::function<void(pid_t, absl::string_view)>& fn) = 0;

  // Everything ProcessInfo holds for one process. NotFound when it does not exist (or vanished).
  virtual absl::StatusOr<ProcessInfo> Inspect(pid_t pid) = 0;

  // A path the ELF reader can open to read the process's executable ("<root>/<pid>/exe": works
  // for processes in other mount namespaces, and after the file was deleted).
  virtual std::string ExePath(pid_t pid) const = 0;

  // Reads a file relative to the table's root ("sys/kernel/yama/ptrace_scope", "self/status").
  virtual absl::StatusOr<std::string> ReadFile(absl::string_view relative) const = 0;

  // Root directory ("/proc" or the recorded tree), for messages.
  virtual const std::string& root() const = 0;
};

// Reads every file itself under `root` (the real /proc or a recorded tree with the same layout:
// <root>/<pid>/{stat,status,cmdline,cgroup,exe}; exe may be a symlink or missing).
std::unique_ptr<ProcessTable> NewDirProcessTable(std::string root);

// The live host: libproc2 for stat, cmdline and exe; status (NSpid, TracerPid) and the cgroup
// scan read directly, since libproc2 offers neither NSpid nor a cgroup-only walk.
std::unique_ptr<ProcessTable> NewLiveProcessTable();

// Reads a whole (small) file; NotFound / PermissionDenied / Internal from errno.
absl::StatusOr<std::string> ReadSmallFile(const std::string& path);

}  // namespace kdbg::agent
