#include "agent/delve/proc_reader.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/fd.h"
#include "common/status.h"

namespace kdbg::delve {
namespace {

absl::StatusOr<std::string> ReadSmallFile(const std::string& path, pid_t pid) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    if (errno == ENOENT || errno == ESRCH) {
      return absl::NotFoundError(absl::StrCat("process ", pid, " is gone"));
    }
    return ErrnoToStatus(errno, absl::StrCat("open ", path));
  }
  std::string out;
  char buf[4096];
  while (true) {
    ssize_t n = ::read(fd.get(), buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == ESRCH) return absl::NotFoundError(absl::StrCat("process ", pid, " is gone"));
      return ErrnoToStatus(errno, absl::StrCat("read ", path));
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

std::vector<std::string> SplitNul(const std::string& s) {
  return absl::StrSplit(s, '\0', absl::SkipEmpty());
}

}  // namespace

absl::StatusOr<ProcState> ParseProcStatus(absl::string_view text) {
  ProcState st;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    absl::string_view v = line;
    if (absl::ConsumePrefix(&v, "State:")) {
      v = absl::StripLeadingAsciiWhitespace(v);
      if (!v.empty()) st.state = v[0];
    } else if (absl::ConsumePrefix(&v, "PPid:")) {
      (void)absl::SimpleAtoi(absl::StripAsciiWhitespace(v), &st.ppid);
    } else if (absl::ConsumePrefix(&v, "TracerPid:")) {
      (void)absl::SimpleAtoi(absl::StripAsciiWhitespace(v), &st.tracer_pid);
    } else if (absl::ConsumePrefix(&v, "ShdPnd:")) {
      (void)absl::SimpleHexAtoi(absl::StripAsciiWhitespace(v), &st.shd_pnd);
    } else if (absl::ConsumePrefix(&v, "SigPnd:")) {
      (void)absl::SimpleHexAtoi(absl::StripAsciiWhitespace(v), &st.sig_pnd);
    }
  }
  if (st.state == '?') return absl::InvalidArgumentError("status without a State: line");
  return st;
}

absl::StatusOr<uint64_t> ParseStartTicks(absl::string_view stat) {
  size_t paren = stat.rfind(')');
  if (paren == absl::string_view::npos) return absl::InvalidArgumentError("stat without ')'");
  std::vector<absl::string_view> f =
      absl::StrSplit(stat.substr(paren + 1), ' ', absl::SkipWhitespace());
  // After ')': field 3 (state) is f[0], so field 22 is f[19].
  uint64_t ticks = 0;
  if (f.size() < 20 || !absl::SimpleAtoi(f[19], &ticks)) {
    return absl::InvalidArgumentError("stat without a start time (field 22)");
  }
  return ticks;
}

absl::StatusOr<ProcState> RealProcReader::Status(pid_t pid) {
  KDBG_ASSIGN_OR_RETURN(std::string text,
                        ReadSmallFile(absl::StrCat(root_, "/", pid, "/status"), pid));
  auto st = ParseProcStatus(text);
  if (!st.ok()) return absl::NotFoundError(absl::StrCat("process ", pid, " is gone"));
  return st;
}

absl::StatusOr<bool> RealProcReader::SigtrapPending(pid_t pid) {
  KDBG_ASSIGN_OR_RETURN(ProcState st, Status(pid));
  if (st.shd_pnd & kSigtrapBit) return true;
  std::string task_dir = absl::StrCat(root_, "/", pid, "/task");
  DIR* d = ::opendir(task_dir.c_str());
  if (d == nullptr) return absl::NotFoundError(absl::StrCat("process ", pid, " is gone"));
  bool pending = false;
  while (dirent* e = ::readdir(d)) {
    pid_t tid;
    if (!absl::SimpleAtoi(e->d_name, &tid)) continue;
    auto text = ReadSmallFile(absl::StrCat(task_dir, "/", tid, "/status"), pid);
    if (!text.ok()) continue;  // thread exited meanwhile
    auto ts = ParseProcStatus(*text);
    if (ts.ok() && (ts->sig_pnd & kSigtrapBit)) pending = true;
  }
  ::closedir(d);
  return pending;
}

absl::StatusOr<uint64_t> RealProcReader::StartTicks(pid_t pid) {
  KDBG_ASSIGN_OR_RETURN(std::string text,
                        ReadSmallFile(absl::StrCat(root_, "/", pid, "/stat"), pid));
  return ParseStartTicks(text);
}

absl::StatusOr<std::vector<std::string>> RealProcReader::Cmdline(pid_t pid) {
  KDBG_ASSIGN_OR_RETURN(std::string text,
                        ReadSmallFile(absl::StrCat(root_, "/", pid, "/cmdline"), pid));
  return SplitNul(text);
}

absl::StatusOr<std::vector<std::string>> RealProcReader::Environ(pid_t pid) {
  KDBG_ASSIGN_OR_RETURN(std::string text,
                        ReadSmallFile(absl::StrCat(root_, "/", pid, "/environ"), pid));
  return SplitNul(text);
}

std::vector<pid_t> RealProcReader::ListPids() {
  std::vector<pid_t> out;
  DIR* d = ::opendir(root_.c_str());
  if (d == nullptr) return out;
  while (dirent* e = ::readdir(d)) {
    pid_t p;
    if (absl::SimpleAtoi(e->d_name, &p)) out.push_back(p);
  }
  ::closedir(d);
  return out;
}

std::string RealProcReader::ExePath(pid_t pid) { return absl::StrCat(root_, "/", pid, "/exe"); }

}  // namespace kdbg::delve
