#include "tests/support/proc_probe.h"

#include <dirent.h>

#include <fstream>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"

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

absl::StatusOr<ProcStatus> WaitUntilReleased(pid_t pid, int timeout_ms) {
  absl::Time deadline = absl::Now() + absl::Milliseconds(timeout_ms);
  while (true) {
    auto st = ReadProcStatus(pid);
    if (!st.ok()) return st.status();
    bool stopped = st->state == 'T' || st->state == 't';
    if ((st->tracer_pid == 0 && !stopped) || absl::Now() >= deadline) return st;
    absl::SleepFor(absl::Milliseconds(10));
  }
}

}  // namespace kdbg::testing
