#include "common/proc_reader.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/fd.h"
#include "common/status.h"

namespace kdbg {

absl::StatusOr<std::string> ReadSmallFile(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return ErrnoToStatus(errno, absl::StrCat("open ", path));
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoToStatus(errno, absl::StrCat("read ", path));
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

absl::Status ParseStat(absl::string_view text, ProcessInfo* info) {
  size_t open = text.find('(');
  size_t close = text.rfind(')');
  if (open == absl::string_view::npos || close == absl::string_view::npos || close < open) {
    return absl::InvalidArgumentError("malformed /proc/PID/stat: no (comm)");
  }
  int pid = 0;
  if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(text.substr(0, open)), &pid)) {
    return absl::InvalidArgumentError("malformed /proc/PID/stat: bad pid");
  }
  // Fields after comm, numbered from 3 (state): field N is f[N - 3].
  std::vector<absl::string_view> f =
      absl::StrSplit(text.substr(close + 1), ' ', absl::SkipWhitespace());
  if (f.size() < 20) return absl::InvalidArgumentError("malformed /proc/PID/stat: too few fields");
  int ppid = 0;
  uint64_t start = 0;
  if (!absl::SimpleAtoi(f[1], &ppid) || !absl::SimpleAtoi(f[19], &start)) {
    return absl::InvalidArgumentError("malformed /proc/PID/stat: bad ppid or start time");
  }
  info->pid = pid;
  info->comm = std::string(text.substr(open + 1, close - open - 1));
  info->state = f[0].empty() ? '?' : f[0][0];
  info->ppid = ppid;
  info->start_time_ticks = start;
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> ParseStartTicks(absl::string_view stat) {
  ProcessInfo info;
  if (absl::Status s = ParseStat(stat, &info); !s.ok()) return s;
  return info.start_time_ticks;
}

absl::StatusOr<ProcStatus> ParseProcStatus(absl::string_view text) {
  ProcStatus st;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    absl::string_view v = line;
    if (absl::ConsumePrefix(&v, "State:")) {
      v = absl::StripLeadingAsciiWhitespace(v);
      if (!v.empty()) st.state = v[0];
    } else if (absl::ConsumePrefix(&v, "PPid:")) {
      (void)absl::SimpleAtoi(absl::StripAsciiWhitespace(v), &st.ppid);
    } else if (absl::ConsumePrefix(&v, "Tgid:")) {
      (void)absl::SimpleAtoi(absl::StripAsciiWhitespace(v), &st.tgid);
    } else if (absl::ConsumePrefix(&v, "TracerPid:")) {
      (void)absl::SimpleAtoi(absl::StripAsciiWhitespace(v), &st.tracer_pid);
    } else if (absl::ConsumePrefix(&v, "ShdPnd:")) {
      (void)absl::SimpleHexAtoi(absl::StripAsciiWhitespace(v), &st.shd_pnd);
    } else if (absl::ConsumePrefix(&v, "SigPnd:")) {
      (void)absl::SimpleHexAtoi(absl::StripAsciiWhitespace(v), &st.sig_pnd);
    } else if (absl::ConsumePrefix(&v, "NSpid:")) {
      st.nspid.clear();
      for (absl::string_view p : absl::StrSplit(v, absl::ByAnyChar(" \t"), absl::SkipEmpty())) {
        pid_t n = 0;
        if (absl::SimpleAtoi(p, &n)) st.nspid.push_back(n);
      }
    }
  }
  if (st.state == '?') return absl::InvalidArgumentError("status without a State: line");
  return st;
}

absl::StatusOr<uint64_t> ParseAuxvValue(absl::string_view auxv, uint64_t type) {
  if (auxv.size() % 16 != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("auxv of ", auxv.size(), " bytes is not whole {type, value} pairs"));
  }
  for (size_t i = 0; i + 16 <= auxv.size(); i += 16) {
    uint64_t t = 0, v = 0;
    std::memcpy(&t, auxv.data() + i, 8);
    std::memcpy(&v, auxv.data() + i + 8, 8);
    if (t == 0) break;  // AT_NULL
    if (t == type) return v;
  }
  return absl::NotFoundError(absl::StrCat("auxv has no entry of type ", type));
}

std::vector<std::string> ParseNulSeparated(absl::string_view text) {
  std::vector<std::string> out;
  if (!text.empty() && text.back() == '\0') text.remove_suffix(1);
  if (text.empty()) return out;
  for (absl::string_view a : absl::StrSplit(text, '\0')) out.emplace_back(a);
  return out;
}

namespace {

bool ParsePidName(const char* name, pid_t* pid) {
  if (name[0] < '0' || name[0] > '9') return false;
  const char* end = name + std::strlen(name);
  auto [p, ec] = std::from_chars(name, end, *pid);
  return ec == std::errc() && p == end;
}

absl::Status Gone(pid_t pid) {
  return absl::NotFoundError(absl::StrCat("process ", pid, " is gone"));
}

class DirProcReader final : public ProcReader {
 public:
  explicit DirProcReader(std::string root) : root_(std::move(root)) {}

  const std::string& root() const override { return root_; }

  std::vector<pid_t> ListPids() override {
    std::vector<pid_t> out;
    DIR* d = ::opendir(root_.c_str());
    if (d == nullptr) return out;
    while (dirent* e = ::readdir(d)) {
      pid_t p;
      if (ParsePidName(e->d_name, &p)) out.push_back(p);
    }
    ::closedir(d);
    return out;
  }

  absl::Status ScanCgroups(const std::function<void(pid_t, absl::string_view)>& fn) override {
    DIR* dir = ::opendir(root_.c_str());
    if (dir == nullptr) return ErrnoToStatus(errno, absl::StrCat("open process table ", root_));
    int dfd = ::dirfd(dir);
    std::string buf(8192, '\0');
    char rel[64];
    while (dirent* e = ::readdir(dir)) {
      pid_t pid;
      if (!ParsePidName(e->d_name, &pid)) continue;
      // openat relative to the directory: one path lookup per process, the floor for this scan.
      auto [end, ec] = std::to_chars(rel, rel + 40, pid);
      std::memcpy(end, "/cgroup", 8);
      int fd = ::openat(dfd, rel, O_RDONLY | O_CLOEXEC);
      if (fd < 0) continue;
      size_t len = 0;
      for (;;) {
        if (len == buf.size()) buf.resize(buf.size() * 2);
        ssize_t n = ::read(fd, buf.data() + len, buf.size() - len);
        if (n <= 0) break;
        len += static_cast<size_t>(n);
      }
      ::close(fd);
      if (len > 0) fn(pid, absl::string_view(buf.data(), len));
    }
    ::closedir(dir);
    return absl::OkStatus();
  }

  absl::StatusOr<ProcessInfo> Inspect(pid_t pid) override {
    std::string base = absl::StrCat(root_, "/", pid, "/");
    absl::StatusOr<std::string> stat = ReadSmallFile(base + "stat");
    if (!stat.ok()) {
      return absl::NotFoundError(absl::StrCat("process ", pid, " is gone (not found under ", root_,
                                              ": ", stat.status().message(), ")"));
    }
    ProcessInfo info;
    KDBG_RETURN_IF_ERROR(Annotate(ParseStat(*stat, &info), base + "stat"));
    info.pid = pid;
    if (auto s = ReadSmallFile(base + "status"); s.ok()) {
      if (auto st = ParseProcStatus(*s); st.ok()) {
        info.tracer_pid = st->tracer_pid;
        info.tgid = st->tgid;
        info.nspid = std::move(st->nspid);
      }
    }
    if (auto c = ReadSmallFile(base + "cmdline"); c.ok()) info.cmdline = ParseNulSeparated(*c);
    if (auto g = ReadSmallFile(base + "cgroup"); g.ok()) info.cgroup = std::move(*g);
    info.exe = ReadLink(base + "exe");
    return info;
  }

  absl::StatusOr<ProcStatus> Status(pid_t pid) override {
    KDBG_ASSIGN_OR_RETURN(std::string text, ReadOf(pid, "status"));
    auto st = ParseProcStatus(text);
    if (!st.ok()) return Gone(pid);  // an exiting process can leave an empty file
    return st;
  }

  absl::StatusOr<bool> SigtrapPending(pid_t pid) override {
    KDBG_ASSIGN_OR_RETURN(ProcStatus st, Status(pid));
    if (st.shd_pnd & kSigtrapBit) return true;
    std::string task_dir = absl::StrCat(root_, "/", pid, "/task");
    DIR* d = ::opendir(task_dir.c_str());
    if (d == nullptr) return Gone(pid);
    bool pending = false;
    while (dirent* e = ::readdir(d)) {
      pid_t tid;
      if (!ParsePidName(e->d_name, &tid)) continue;
      auto text = ReadSmallFile(absl::StrCat(task_dir, "/", tid, "/status"));
      if (!text.ok()) continue;  // the thread exited meanwhile
      auto ts = ParseProcStatus(*text);
      if (ts.ok() && (ts->sig_pnd & kSigtrapBit)) pending = true;
    }
    ::closedir(d);
    return pending;
  }

  absl::StatusOr<uint64_t> StartTicks(pid_t pid) override {
    KDBG_ASSIGN_OR_RETURN(std::string text, ReadOf(pid, "stat"));
    return ParseStartTicks(text);
  }

  absl::StatusOr<std::vector<std::string>> Cmdline(pid_t pid) override {
    KDBG_ASSIGN_OR_RETURN(std::string text, ReadOf(pid, "cmdline"));
    return ParseNulSeparated(text);
  }

  absl::StatusOr<std::vector<std::string>> Environ(pid_t pid) override {
    KDBG_ASSIGN_OR_RETURN(std::string text, ReadOf(pid, "environ"));
    return ParseNulSeparated(text);
  }

  std::string ExePath(pid_t pid) const override { return absl::StrCat(root_, "/", pid, "/exe"); }

  absl::StatusOr<std::string> ReadFile(absl::string_view relative) const override {
    return ReadSmallFile(absl::StrCat(root_, "/", relative));
  }

  absl::StatusOr<std::string> ReadMemory(pid_t pid, uint64_t address, size_t n) const override {
    const std::string path = absl::StrCat(root_, "/", pid, "/mem");
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid()) {
      if (errno == ENOENT || errno == ESRCH) return Gone(pid);
      return ErrnoToStatus(errno, absl::StrCat("open ", path));
    }
    std::string out(n, '\0');
    size_t got = 0;
    while (got < n) {
      ssize_t r = ::pread(fd.get(), out.data() + got, n - got, static_cast<off_t>(address + got));
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) {
        // EIO: an unmapped or unreadable page; 0: past the end (a recorded tree's short file).
        return absl::OutOfRangeError(absl::StrCat(
            "pid ", pid, ": ", n, " bytes at 0x", absl::Hex(address), " are not readable",
            r < 0 ? absl::StrCat(" (", std::strerror(errno), ")") : ""));
      }
      got += static_cast<size_t>(r);
    }
    return out;
  }

 private:
  // A per-process file; a vanished process (ENOENT, ESRCH) is NotFound "process PID is gone".
  absl::StatusOr<std::string> ReadOf(pid_t pid, absl::string_view file) const {
    absl::StatusOr<std::string> text = ReadSmallFile(absl::StrCat(root_, "/", pid, "/", file));
    if (!text.ok() && absl::IsNotFound(text.status())) return Gone(pid);  // ENOENT or ESRCH
    return text;
  }

  static std::string ReadLink(const std::string& path) {
    char buf[4096];
    ssize_t n = ::readlink(path.c_str(), buf, sizeof(buf));
    if (n <= 0) return "";
    return std::string(buf, static_cast<size_t>(n));
  }

  std::string root_;
};

}  // namespace

std::unique_ptr<ProcReader> NewProcReader(std::string root) {
  while (root.size() > 1 && root.back() == '/') root.pop_back();
  return std::make_unique<DirProcReader>(std::move(root));
}

}  // namespace kdbg
