#include "bench/delve/cpu_split.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <utility>
#include <vector>

namespace kdbg::bench {
namespace {

struct Stat {
  pid_t ppid = 0;
  double cpu = 0;    // seconds
  std::string comm;  // field 2 without its parentheses
};

// Parses /proc/PID/stat; false if the process is gone.
bool ReadStat(pid_t pid, Stat* out) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(f, line)) return false;
  size_t close = line.rfind(')');  // the command may hold spaces and parentheses
  size_t open = line.find('(');
  if (close == std::string::npos || open == std::string::npos || open > close) return false;
  out->comm = line.substr(open + 1, close - open - 1);
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

TreeCpu TreeCpuSecondsWithin(pid_t pid, const std::string& comm) {
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
  TreeCpu out;
  if (all.count(pid) == 0) return out;
  std::vector<std::pair<pid_t, bool>> todo = {{pid, false}};  // (process, under a `comm`)
  while (!todo.empty()) {
    auto [p, under] = todo.back();
    todo.pop_back();
    under = under || (!comm.empty() && all[p].comm == comm);
    out.total += all[p].cpu;
    if (under) out.named += all[p].cpu;
    for (const auto& [child, s] : all) {
      if (s.ppid == p) todo.emplace_back(child, under);
    }
  }
  return out;
}

double TreeCpuSeconds(pid_t pid) { return TreeCpuSecondsWithin(pid, "").total; }

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

CpuSample SampleCpu(const std::map<std::string, pid_t>& trees,
                    const std::map<std::string, std::string>& carve) {
  CpuSample s;
  for (const auto& [name, pid] : trees) {
    auto c = carve.find(name);
    TreeCpu t = pid > 0 ? TreeCpuSecondsWithin(pid, c == carve.end() ? "" : c->second) : TreeCpu{};
    s.seconds[name] = t.total - t.named;
    if (c != carve.end()) s.seconds[c->second] += t.named;
  }
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  s.seconds["bench"] = static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                       static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
  s.machine_busy = MachineBusySeconds();
  return s;
}

void CpuTotals::Add(const CpuSample& before, const CpuSample& after, double requests_served,
                    double wall_seconds) {
  for (const auto& [k, v] : after.seconds) {
    auto b = before.seconds.find(k);
    seconds[k] += v - (b == before.seconds.end() ? 0 : b->second);
  }
  machine_busy += after.machine_busy - before.machine_busy;
  requests += requests_served;
  wall += wall_seconds;
}

std::map<std::string, double> CpuTotals::MicrosPerRequest() const {
  std::map<std::string, double> out;
  double named = 0;
  for (const auto& [k, v] : seconds) {
    named += v;
    out[k] = requests > 0 ? v / requests * 1e6 : 0;
  }
  out["others"] = requests > 0 ? (machine_busy - named) / requests * 1e6 : 0;
  out["machine_busy_cores"] = wall > 0 ? machine_busy / wall : 0;
  return out;
}

}  // namespace kdbg::bench
