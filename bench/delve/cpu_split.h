// CPU time of process trees, for the benchmarks' "where the CPU went" figures.
//
// Reads /proc/PID/stat (fields 14 utime and 15 stime, in clock ticks: `man 5 proc`), e.g.
//   4242 (hello-world) S 4200 4242 4242 0 -1 4194560 301 0 0 0 1523 377 0 0 20 0 7 0 ...
// and /proc/stat's first line ("cpu  user nice system idle iowait irq softirq steal ...") for the
// whole machine. A tree is a PID and every live descendant (Delve under the agent, for example);
// a process that exits between two samples takes its time with it, so sample while the processes
// live.
#pragma once

#include <sys/types.h>

#include <map>
#include <string>

namespace kdbg::bench {

// CPU seconds (user + system) used so far by `pid` and its live descendants; 0 if it is gone.
double TreeCpuSeconds(pid_t pid);

// As TreeCpuSeconds, and `named`: the part of it in processes whose command name (/proc/PID/stat
// field 2, "dlv" above) is `comm`, with their descendants. An empty `comm` names none.
struct TreeCpu {
  double total = 0;
  double named = 0;
};
TreeCpu TreeCpuSecondsWithin(pid_t pid, const std::string& comm);

// CPU seconds the whole machine was busy so far (every CPU: all but idle and iowait).
double MachineBusySeconds();

// One sample of named process trees plus this process (getrusage) and the machine.
struct CpuSample {
  std::map<std::string, double> seconds;  // name -> CPU seconds (trees, "bench" = this process)
  double machine_busy = 0;
};
// `carve` (tree name -> command name) splits a tree: e.g. {"agent": "dlv"} counts the agent's
// Delve processes as "dlv" and the rest of its tree as "agent".
CpuSample SampleCpu(const std::map<std::string, pid_t>& trees,
                    const std::map<std::string, std::string>& carve = {});

// Samples' differences summed over runs, per request served.
struct CpuTotals {
  std::map<std::string, double> seconds;  // name -> CPU seconds
  double machine_busy = 0, requests = 0, wall = 0;

  void Add(const CpuSample& before, const CpuSample& after, double requests_served,
           double wall_seconds);
  // Microseconds of CPU per request for each name, "others" (the rest of the machine's busy time:
  // other users of the shared machine, unattributed kernel work) and "machine_busy_cores" (not per
  // request: the machine's busy cores over the runs, 2 = both cores of this machine saturated).
  std::map<std::string, double> MicrosPerRequest() const;
};

}  // namespace kdbg::bench
