// The one reader of /proc in kdbg, behind an interface rooted at a configurable directory: the live
// /proc, the host's /proc mounted elsewhere (`--proc-root /host/proc`), or a recorded tree with the
// same layout (agent/resolver/testdata/trees/*/proc). The resolver reads processes with it; the
// Delve engine reads only what it must watch while attached (stopped, traced, a pending SIGTRAP)
// and its own leftover servers, with the same root. A fake for unit tests is in
// common/testing/fake_proc_reader.h. (tests/support/proc_probe.cc parses /proc/PID/status on its
// own on purpose: the tests' check that a target was released must not share code with it.)
//
// Formats read (Linux 5.x/6.x, as the kernel writes them):
//   <root>/PID/stat     "4242 (hello world) S 4230 4242 4242 0 -1 4194560 ... 1234567 ...": field 2
//                       is the command in parentheses, which may itself hold spaces and
//                       parentheses, so fields are counted after the LAST ')'; field 3 is the
//                       state, 4 the parent PID, 22 the start time in clock ticks since boot.
//   <root>/PID/status   "State:\tS (sleeping)", "PPid:\t4230", "TracerPid:\t0",
//                       "NSpid:\t4242\t1" (outermost namespace first), "SigPnd:\t0000000000000000"
//                       (this thread), "ShdPnd:\t0000000000000010" (the process; bit signo-1, so
//                       0x10 is SIGTRAP), "CapEff:\t000001ffffffffff"
//   <root>/PID/task/TID/status   the same, per thread
//   <root>/PID/cmdline, environ  NUL-separated, possibly without a trailing NUL
//   <root>/PID/cgroup   "0::/kubepods/besteffort/pod<uid>/<64-hex id>" (v2), or one line per v1
//                       hierarchy "12:pids:/kubepods/..." (agent/resolver/container_ref.h)
//   <root>/PID/exe      symlink to the executable ("/usr/bin/hello (deleted)" once replaced);
//                       opening it reaches the file across mount namespaces
//   <root>/sys/kernel/yama/ptrace_scope, <root>/self/status   host facts, through ReadFile
//   <root>/PID/auxv     the auxiliary vector the kernel gave the process, binary: pairs of native
//                       64-bit words {type, value} up to {AT_NULL = 0, 0}; AT_ENTRY (9) is the
//                       program's entry point as loaded (through ReadFile("PID/auxv"))
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace kdbg {

// /proc/PID/status (or task/TID/status).
struct ProcStatus {
  char state = '?';  // R S D T t Z X I
  pid_t ppid = 0;
  pid_t tgid = 0;            // the process of this thread
  pid_t tracer_pid = 0;      // a thread ID: Delve traces from one of its threads, not its main one
  uint64_t shd_pnd = 0;      // the process's pending signals, bit (signo-1)
  uint64_t sig_pnd = 0;      // this thread's pending signals
  std::vector<pid_t> nspid;  // outermost first; the last is the PID in its own namespace
  bool stopped() const { return state == 'T' || state == 't'; }
  bool zombie() const { return state == 'Z' || state == 'X'; }
};

constexpr uint64_t kSigtrapBit = 1ull << (5 - 1);  // SIGTRAP = 5: 0x10

// Everything the resolver needs about one process.
struct ProcessInfo {
  pid_t pid = 0;
  pid_t ppid = 0;
  uint64_t start_time_ticks = 0;  // stat field 22
  char state = '?';               // stat field 3
  std::string comm;               // stat field 2, without the parentheses
  std::vector<std::string> cmdline;
  std::string cgroup;        // verbatim
  std::vector<pid_t> nspid;  // from status
  pid_t tracer_pid = 0;      // from status (a thread ID)
  pid_t tgid = 0;            // from status: the process, when `pid` names a thread
  std::string exe;           // readlink(exe); "" when unreadable (kernel thread, EACCES)
};

// Pure parsers of the formats above.
// stat: fills pid, comm, state, ppid and start_time_ticks. InvalidArgument when malformed.
absl::Status ParseStat(absl::string_view text, ProcessInfo* info);
// stat field 22. InvalidArgument when malformed.
absl::StatusOr<uint64_t> ParseStartTicks(absl::string_view stat);
// status. InvalidArgument without a "State:" line.
absl::StatusOr<ProcStatus> ParseProcStatus(absl::string_view text);
// cmdline and environ.
std::vector<std::string> ParseNulSeparated(absl::string_view text);
// The value of entry `type` of an auxv (AT_ENTRY = 9). NotFound when absent, InvalidArgument when
// the text is not whole 16-byte pairs.
absl::StatusOr<uint64_t> ParseAuxvValue(absl::string_view auxv, uint64_t type);
inline constexpr uint64_t kAuxvEntry = 9;  // AT_ENTRY

// Reads a whole (small) file; NotFound / PermissionDenied / Internal from errno.
absl::StatusOr<std::string> ReadSmallFile(const std::string& path);

// Every method is thread-safe. "NotFound" always means the process does not exist (or exited
// during the call); its message says "process PID is gone".
class ProcReader {
 public:
  virtual ~ProcReader() = default;

  // The root directory ("/proc", "/host/proc" or a recorded tree), for messages.
  virtual const std::string& root() const = 0;

  // The PIDs of every process (not thread) under the root. Empty when the root is unreadable.
  virtual std::vector<pid_t> ListPids() = 0;

  // Calls `fn(pid, cgroup_text)` for every process whose cgroup file is readable: the resolver's
  // wide scan, one read per process. Processes that vanish meanwhile are skipped. Error only when
  // the root itself is unreadable.
  virtual absl::Status ScanCgroups(const std::function<void(pid_t, absl::string_view)>& fn) = 0;

  // Everything ProcessInfo holds (stat must be readable; the other files are best effort).
  virtual absl::StatusOr<ProcessInfo> Inspect(pid_t pid) = 0;

  virtual absl::StatusOr<ProcStatus> Status(pid_t pid) = 0;
  // True when SIGTRAP is pending for the process (ShdPnd) or any of its threads (SigPnd).
  virtual absl::StatusOr<bool> SigtrapPending(pid_t pid) = 0;
  virtual absl::StatusOr<uint64_t> StartTicks(pid_t pid) = 0;
  virtual absl::StatusOr<std::vector<std::string>> Cmdline(pid_t pid) = 0;
  virtual absl::StatusOr<std::vector<std::string>> Environ(pid_t pid) = 0;

  // A path that opens the process's executable: "<root>/<pid>/exe".
  virtual std::string ExePath(pid_t pid) const = 0;

  // Reads a file relative to the root ("sys/kernel/yama/ptrace_scope", "self/status"). Errors as
  // ReadSmallFile.
  virtual absl::StatusOr<std::string> ReadFile(absl::string_view relative) const = 0;

  // `n` bytes of the process's memory at `address`, from "<root>/<pid>/mem" (the caller needs
  // ptrace access to it: root with CAP_SYS_PTRACE; the process is neither stopped nor traced).
  // OutOfRange when fewer than `n` bytes there are mapped and readable; NotFound: gone.
  virtual absl::StatusOr<std::string> ReadMemory(pid_t pid, uint64_t address, size_t n) const = 0;
};

// The real reader: reads every file itself under `root` (trailing slashes are ignored).
std::unique_ptr<ProcReader> NewProcReader(std::string root = "/proc");

}  // namespace kdbg
