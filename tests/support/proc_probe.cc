#include "tests/support/proc_probe.h"

#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "common/clock.h"

namespace kdbg::testing {

absl::StatusOr<ProcStatus> ReadProcStatus(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  if (!in) return absl::NotFoundError(absl::StrCat("process ", pid, " is gone"));
  ProcStatus st;
  std::string line;
  while (std::getline(in, line)) {
    absl::string_view v = line;
    if (absl::ConsumePrefix(&v, "State:")) {
      v = absl::StripLeadingAsciiWhitespace(v);
      if (!v.empty()) st.state = v[0];
    } else if (absl::ConsumePrefix(&v, "TracerPid:")) {
      (void)absl::SimpleAtoi(absl::StripAsciiWhitespace(v), &st.tracer_pid);
    } else if (absl::ConsumePrefix(&v, "ShdPnd:")) {
      (void)absl::SimpleHexAtoi(absl::StripAsciiWhitespace(v), &st.shd_pnd);
    }
  }
  if (st.state == '?') return absl::NotFoundError(absl::StrCat("process ", pid, " is gone"));
  return st;
}

std::vector<pid_t> DlvProcessesFor(pid_t pid) {
  std::vector<pid_t> out;
  DIR* d = ::opendir("/proc");
  if (d == nullptr) return out;
  std::string want = absl::StrCat(pid);
  while (dirent* e = ::readdir(d)) {
    pid_t p;
    if (!absl::SimpleAtoi(e->d_name, &p)) continue;
    std::ifstream in(absl::StrCat("/proc/", p, "/cmdline"));
    std::stringstream ss;
    ss << in.rdbuf();
    std::vector<std::string> argv = absl::StrSplit(ss.str(), '\0', absl::SkipEmpty());
    if (argv.empty()) continue;
    absl::string_view prog = argv[0];
    size_t slash = prog.rfind('/');
    if (slash != absl::string_view::npos) prog = prog.substr(slash + 1);
    if (prog != "dlv") continue;
    bool match = pid == 0;
    for (const auto& a : argv) match = match || a == want;
    if (match) out.push_back(p);
  }
  ::closedir(d);
  return out;
}

std::vector<std::string> TcpListenersOf(pid_t pid) {
  std::vector<std::string> held;  // "INODE" of every socket the process holds
  if (DIR* d = ::opendir(absl::StrCat("/proc/", pid, "/fd").c_str())) {
    while (dirent* e = ::readdir(d)) {
      char link[64] = {};
      std::string path = absl::StrCat("/proc/", pid, "/fd/", e->d_name);
      ssize_t n = ::readlink(path.c_str(), link, sizeof(link) - 1);
      absl::string_view target(link, n > 0 ? static_cast<size_t>(n) : 0);
      if (absl::ConsumePrefix(&target, "socket:[") && absl::ConsumeSuffix(&target, "]")) {
        held.emplace_back(target);
      }
    }
    ::closedir(d);
  }
  std::vector<std::string> out;
  for (const char* table : {"tcp", "tcp6"}) {
    std::ifstream in(absl::StrCat("/proc/", pid, "/net/", table));
    std::string line;
    std::getline(in, line);  // the header
    while (std::getline(in, line)) {
      std::vector<absl::string_view> f = absl::StrSplit(line, ' ', absl::SkipEmpty());
      if (f.size() < 10 || f[3] != "0A") continue;
      if (std::find(held.begin(), held.end(), f[9]) != held.end()) {
        out.push_back(absl::StrCat(table, " ", f[9]));
      }
    }
  }
  return out;
}

absl::StatusOr<ProcStatus> WaitUntilReleased(pid_t pid, int timeout_ms) {
  absl::Time deadline = kdbg::MonotonicNow() + absl::Milliseconds(timeout_ms);
  while (true) {
    auto st = ReadProcStatus(pid);
    if (!st.ok()) return st.status();
    bool stopped = st->state == 'T' || st->state == 't';
    if ((st->tracer_pid == 0 && !stopped) || kdbg::MonotonicNow() >= deadline) return st;
    absl::SleepFor(absl::Milliseconds(10));
  }
}

}  // namespace kdbg::testing
