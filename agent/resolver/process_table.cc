#include "agent/resolver/process_table.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdlib>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/fd.h"
#include "common/status.h"

namespace kdbg::agent {

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
  info->pid = pid;
  info->comm = std::string(text.substr(open + 1, close - open - 1));
  // Fields after comm, numbered from 3 (state).
  std::vector<absl::string_view> f =
      absl::StrSplit(text.substr(close + 1), ' ', absl::SkipWhitespace());
  if (f.size() < 20) return absl::InvalidArgumentError("malformed /proc/PID/stat: too few fields");
  info->state = f[0].empty() ? '?' : f[0][0];
  int ppid = 0;
  uint64_t start = 0;
  if (!absl::SimpleAtoi(f[1], &ppid) || !absl::SimpleAtoi(f[19], &start)) {
    return absl::InvalidArgumentError("malformed /proc/PID/stat: bad ppid or start time");
  }
  info->ppid = ppid;
  info->start_time_ticks = start;
  return absl::OkStatus();
}

void ParseStatus(absl::string_view text, ProcessInfo* info) {
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (absl::ConsumePrefix(&line, "TracerPid:")) {
      int v = 0;
      if (absl::SimpleAtoi(absl::StripAsciiWhitespace(line), &v)) info->tracer_pid = v;
    } else if (absl::ConsumePrefix(&line, "NSpid:")) {
      info->nspid.clear();
      for (absl::string_view p : absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty())) {
        int v = 0;
        if (absl::SimpleAtoi(p, &v)) info->nspid.push_back(v);
      }
    }
  }
}

std::vector<std::string> ParseCmdline(absl::string_view text) {
  std::vector<std::string> args;
  if (!text.empty() && text.back() == '\0') text.remove_suffix(1);
  if (text.empty()) return args;
  for (absl::string_view a : absl::StrSplit(text, '\0')) args.emplace_back(a);
  return args;
}

namespace {

bool ParsePidName(const char* name, pid_t* pid) {
  if (name[0] < '0' || name[0] > '9') return false;
  const char* end = name + std::char_traits<char>::length(name);
  auto [p, ec] = std::from_chars(name, end, *pid);
  return ec == std::errc() && p == end;
}

class DirProcessTable : public ProcessTable {
 public:
  explicit DirProcessTable(std::string root) : root_(std::move(root)) {}

  absl::Status ScanCgroups(const std::function<void(pid_t, absl::string_view)>& fn) override {
    DIR* dir = ::opendir(root_.c_str());
    if (dir == nullptr) return ErrnoToStatus(errno, absl::StrCat("open process table ", root_));
    int dfd = ::dirfd(dir);
    std::string buf;
    buf.resize(8192);
    char rel[64];
    while (dirent* e = ::readdir(dir)) {
      pid_t pid;
      if (!ParsePidName(e->d_name, &pid)) continue;
      // openat relative to the directory: one syscall path lookup per process, like the floor.
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
    ProcessInfo info;
    absl::StatusOr<std::string> stat = ReadSmallFile(base + "stat");
    if (!stat.ok()) {
      return absl::NotFoundError(absl::StrCat("process ", pid, " not found in ", root_, " (",
                                              stat.status().message(), ")"));
    }
    KDBG_RETURN_IF_ERROR(Annotate(ParseStat(*stat, &info), base + "stat"));
    info.pid = pid;
    if (auto s = ReadSmallFile(base + "status"); s.ok()) ParseStatus(*s, &info);
    if (auto c = ReadSmallFile(base + "cmdline"); c.ok()) info.cmdline = ParseCmdline(*c);
    if (auto g = ReadSmallFile(base + "cgroup"); g.ok()) info.cgroup = std::move(*g);
    info.exe = ReadLink(base + "exe");
    return info;
  }

  std::string ExePath(pid_t pid) const override { return absl::StrCat(root_, "/", pid, "/exe"); }

  absl::StatusOr<std::string> ReadFile(absl::string_view relative) const override {
    return ReadSmallFile(absl::StrCat(root_, "/", relative));
  }

  const std::string& root() const override { return root_; }

  static std::string ReadLink(const std::string& path) {
    char buf[4096];
    ssize_t n = ::readlink(path.c_str(), buf, sizeof(buf));
    if (n <= 0) return "";
    return std::string(buf, static_cast<size_t>(n));
  }

 private:
  std::string root_;
};

}  // namespace

std::unique_ptr<ProcessTable> NewDirProcessTable(std::string root) {
  while (root.size() > 1 && root.back() == '/') root.pop_back();
  return std::make_unique<DirProcessTable>(std::move(root));
}

}  // namespace kdbg::agent
