#include "bench/delve/cpu_split.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <vector>

namespace kdbg::bench {
namespace {

struct Stat {
  pid_t ppid = 0;
  double cpu = 0;  // seconds
};

// Parses /proc/PID/stat; false if the process is gone.
bool ReadStat(pid_t pid, Stat* out) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(f, line)) return false;
  size_t close = line.rfind(')');  // the command may hold spaces and parentheses
  if (close == std::string::npos) return false;
  std::istringstream rest(line.substr(close + 2));
  std::vector<std::string> fields;  // fields 3.. (state, ppid, ...)
  std::string w;
  while (rest >> w) fields.push_back(w);
  if (fields.size() < 13) return false;
  const double tick = static_cast<double>(::sysconf(_SC_CLK_TCK));
  out->ppid = static_cast<pid_t>(std::atol(fields[1].c_str()));
  out->cpu = (std::atof(fields[11].c_str()) + std::atof(fields[12].c_str())) / tick;
  return true;
}

}  // namespace

double TreeCpuSeconds(pid_t pid) {
  std::map<pid_t, Stat> all;
  if (DIR* d = ::opendir("/proc")) {
    while (dirent* e = ::readdir(d)) {
      char* end = nullptr;
      long p = std::strtol(e->d_name, &end, 10);
      if (end == e->d_name || *end != '\0') continue;
      Stat s;
      if (ReadStat(static_cast<pid_t>(p), &s)) all[static_cast<pid_t>(p)] = s;
    }
    ::closedir(d);
  }
  if (all.count(pid) == 0) return 0;
  double total = 0;
  std::vector<pid_t> todo = {pid};
  while (!todo.empty()) {
    pid_t p = todo.back();
    todo.pop_back();
    total += all[p].cpu;
    for (const auto& [child, s] : all) {
      if (s.ppid == p) todo.push_back(child);
    }
  }
  return total;
}

double MachineBusySeconds() {
  std::ifstream f("/proc/stat");
  std::string cpu;
  f >> cpu;  // "cpu"
  std::vector<double> v;
  double x = 0;
  for (int i = 0; i < 8 && f >> x; ++i) v.push_back(x);
  if (v.size() < 5) return 0;
  double busy = 0;
  for (size_t i = 0; i < v.size(); ++i) {
    if (i != 3 && i != 4) busy += v[i];  // idle, iowait
  }
  return busy / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

CpuSample SampleCpu(const std::map<std::string, pid_t>& trees) {
  CpuSample s;
  for (const auto& [name, pid] : trees) s.seconds[name] = pid > 0 ? TreeCpuSeconds(pid) : 0;
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  s.seconds["bench"] = static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                       static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
  s.machine_busy = MachineBusySeconds();
  return s;
}

}  // namespace kdbg::bench
