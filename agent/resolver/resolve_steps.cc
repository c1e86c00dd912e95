#include "agent/resolver/resolve_steps.h"

#include <optional>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status.h"

namespace kdbg::agent {
namespace {

std::string Basename(absl::string_view path) {
  size_t slash = path.rfind('/');
  return std::string(slash == absl::string_view::npos ? path : path.substr(slash + 1));
}

std::string ProgramName(const ProcessInfo& p) {
  if (!p.cmdline.empty()) return Basename(p.cmdline[0]);
  return p.comm;
}

std::string ArgAfter(const std::vector<std::string>& argv, absl::string_view flag) {
  for (size_t i = 0; i + 1 < argv.size(); ++i) {
    if (argv[i] == flag) return argv[i + 1];
  }
  return "";
}

}  // namespace

Kind KindOf(const ProcessInfo& p) {
  std::string name = ProgramName(p);
  // runc re-executes itself as the container's init ("runc init", comm "runc:[2:INIT]") and only
  // then execs the container's program: until that exec the container is still starting.
  if (absl::StartsWith(p.comm, "runc:[") ||
      (name == "runc" && p.cmdline.size() >= 2 && p.cmdline[1] == "init")) {
    return Kind::kRuntimeInit;
  }
  if (name == "pause") return Kind::kPause;
  if (name == "conmon") return Kind::kMonitor;
  if (absl::StartsWith(name, "containerd-shim-runsc") || absl::StartsWith(name, "runsc"))
    return Kind::kGvisor;
  if (absl::StartsWith(name, "containerd-shim-kata") || absl::StartsWith(name, "qemu") ||
      name == "cloud-hypervisor" || name == "firecracker" || absl::StartsWith(name, "kata-")) {
    return Kind::kKata;
  }
  if (absl::StartsWith(name, "containerd-shim") || name == "docker-containerd-shim")
    return Kind::kShim;
  return Kind::kOrdinary;
}

std::string Describe(const ProcessInfo& p) {
  std::string cmd =
      p.cmdline.empty() ? absl::StrCat("[", p.comm, "]") : absl::StrJoin(p.cmdline, " ");
  if (cmd.size() > 120) cmd = cmd.substr(0, 117) + "...";
  return absl::StrCat(p.pid, " (", cmd, ")");
}

std::string ShortId(absl::string_view id) { return std::string(id.substr(0, 12)); }

const ProcessInfo* ProcessCache::Get(pid_t pid) {
  auto it = procs_.find(pid);
  if (it != procs_.end()) return &it->second;
  absl::StatusOr<ProcessInfo> p = proc_->Inspect(pid);
  if (!p.ok()) return nullptr;
  return &procs_.emplace(pid, *std::move(p)).first->second;
}

absl::StatusOr<CgroupMembers> ScanCgroupMembers(ProcReader& proc, const ContainerRef& cref,
                                                std::vector<std::string>* evidence) {
  CgroupMembers out;
  out.full_id = cref.id;
  std::string example_line;
  // A cheap substring test first, parsing only the files that mention the ID.
  KDBG_RETURN_IF_ERROR(proc.ScanCgroups([&](pid_t pid, absl::string_view text) {
    ++out.scanned;
    if (text.find(cref.id) == absl::string_view::npos) return;
    for (const CgroupLine& line : ParseCgroupFile(text)) {
      std::optional<CgroupMatch> m = MatchCgroupPath(line.path);
      if (!m || !SameContainerId(cref.id, m->id)) continue;
      if (m->role == CgroupRole::kMonitor) {
        out.monitors.push_back(pid);
      } else {
        out.members.push_back(pid);
        out.full_id = m->id;
        out.runtime = m->runtime;
        out.layout = m->layout;
        out.pod_uid = m->pod_uid;
        if (example_line.empty())
          example_line = absl::StrCat(line.hierarchy, ":", line.controllers, ":", line.path);
      }
      break;
    }
  }));
  if (!out.members.empty()) {
    evidence->push_back(absl::StrCat("cgroup: ", out.members.size(), " of ", out.scanned,
                                     " processes name container ", ShortId(out.full_id),
                                     " (layout ", out.layout,
                                     out.pod_uid.empty() ? "" : ", pod " + out.pod_uid, "): pids ",
                                     absl::StrJoin(out.members, ","), "; e.g. ", example_line));
  } else {
    evidence->push_back(absl::StrCat("cgroup: none of ", out.scanned, " processes under ",
                                     proc.root(), " names container ", ShortId(out.full_id)));
  }
  if (!out.monitors.empty()) {
    evidence->push_back(absl::StrCat("cgroup: monitor (conmon) pids ",
                                     absl::StrJoin(out.monitors, ","), ", not targets"));
  }
  return out;
}

StateFileResult CheckStateFiles(const std::vector<StateFact>& facts, ProcessCache& procs,
                                std::set<pid_t>* members, std::vector<std::string>* evidence) {
  StateFileResult out;
  for (const StateFact& f : facts) {
    if (!f.sandbox.empty()) {
      out.sandbox = f.sandbox;
      evidence->push_back(
          absl::StrCat(f.runtime, ": ", f.source, " exists: ", f.sandbox, " sandbox"));
      continue;
    }
    if (out.runtime.empty() && f.runtime != "runc" && f.runtime != "crun") out.runtime = f.runtime;
    const ProcessInfo* p = procs.Get(f.pid);
    std::string line = absl::StrCat(f.runtime, ": ", f.source, " -> ",
                                    f.monitor ? "monitor" : "init", " pid ", f.pid);
    if (p == nullptr) {
      evidence->push_back(absl::StrCat(line, ": no such process (stale file)"));
      continue;
    }
    if (f.start_ticks != 0 && f.start_ticks != p->start_time_ticks) {
      evidence->push_back(absl::StrCat(line, ": start time ", f.start_ticks, " != process's ",
                                       p->start_time_ticks, ": PID reused, ignored"));
      continue;
    }
    if (f.start_ticks != 0) absl::StrAppend(&line, ", start time ", f.start_ticks, " matches");
    if (f.monitor) {
      evidence->push_back(line);
      members->erase(f.pid);
      continue;
    }
    if (members->empty() || members->count(f.pid)) {
      absl::StrAppend(&line, members->empty() ? "" : " (agrees with cgroup)");
      if (out.init == 0) out.init = f.pid;
    } else {
      absl::StrAppend(&line, " (DISAGREES with cgroup; ignored)");
    }
    evidence->push_back(line);
  }
  return out;
}

absl::Status AddStateInitFamily(ProcReader& proc, ProcessCache& procs, pid_t init,
                                std::set<pid_t>* members, std::vector<std::string>* evidence) {
  const ProcessInfo* init_info = procs.Get(init);
  if (init_info == nullptr) return absl::OkStatus();
  members->insert(init);
  const std::string cg = init_info->cgroup;
  std::vector<pid_t> same;
  KDBG_RETURN_IF_ERROR(proc.ScanCgroups([&](pid_t pid, absl::string_view text) {
    if (pid != init && text == cg) same.push_back(pid);
  }));
  for (pid_t pid : same) {
    // Keep only descendants of the init.
    pid_t cur = pid;
    for (int depth = 0; depth < 64 && cur > 1; ++depth) {
      const ProcessInfo* p = procs.Get(cur);
      if (p == nullptr) break;
      if (p->ppid == init) {
        members->insert(pid);
        break;
      }
      cur = p->ppid;
    }
  }
  evidence->push_back(absl::StrCat("state: no cgroup line names the container; using init ", init,
                                   " and its descendants in the same cgroup: pids ",
                                   absl::StrJoin(*members, ",")));
  return absl::OkStatus();
}

absl::StatusOr<Classified> ClassifyMembers(const std::set<pid_t>& members, ProcessCache& procs,
                                           absl::string_view full_id,
                                           std::vector<std::string>* evidence) {
  Classified out;
  for (pid_t pid : members) {
    const ProcessInfo* p = procs.Get(pid);
    if (p == nullptr) continue;  // exited meanwhile
    Kind k = KindOf(*p);
    if (k == Kind::kGvisor || k == Kind::kKata) {
      return absl::FailedPreconditionError(
          absl::StrCat("container ", ShortId(full_id), " runs in a ",
                       k == Kind::kGvisor ? "gVisor" : "Kata", " sandbox (process ", Describe(*p),
                       "): a host debugger cannot attach; run it with runc/crun to debug"));
    }
    if (k == Kind::kRuntimeInit) {
      evidence->push_back(absl::StrCat("starting: ", Describe(*p), " is the runtime's own init"));
      return absl::UnavailableError(absl::StrCat(
          "container ", ShortId(full_id), " is still starting (process ", Describe(*p),
          " is the runtime's init, not yet the container's program): retry in a moment"));
    }
    if (k == Kind::kOrdinary) {
      out.ordinary.push_back(p);
    } else {
      out.excluded.push_back(
          absl::StrCat(Describe(*p), k == Kind::kPause ? " is pause" : " is a shim/monitor"));
    }
  }
  if (!out.excluded.empty())
    evidence->push_back(absl::StrCat("never targets: ", absl::StrJoin(out.excluded, "; ")));
  if (out.ordinary.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "container ", ShortId(full_id), " holds only pause or monitor processes (",
        absl::StrJoin(out.excluded, "; "), "): pick the pod's application container (-c NAME)"));
  }
  return out;
}

const ProcessInfo* FindInit(const std::vector<const ProcessInfo*>& ordinary,
                            const std::set<pid_t>& members, pid_t state_init,
                            std::vector<std::string>* evidence) {
  const ProcessInfo* init = nullptr;
  for (const ProcessInfo* p : ordinary) {
    bool root = members.count(p->ppid) == 0;
    if (!root) continue;
    if (init == nullptr || p->pid == state_init ||
        (init->pid != state_init && p->start_time_ticks < init->start_time_ticks)) {
      init = p;
    }
  }
  if (init == nullptr && !ordinary.empty()) init = ordinary.front();
  if (init == nullptr) return nullptr;
  evidence->push_back(absl::StrCat(
      "init: ", Describe(*init),
      init->nspid.empty() ? "" : absl::StrCat(", pid ", init->nspid.back(), " in its namespace")));
  return init;
}

absl::Status CheckAncestry(const ProcessInfo& init, ProcessCache& procs, const ContainerRef& cref,
                           absl::string_view full_id, std::vector<std::string>* evidence) {
  const ProcessInfo* parent = procs.Get(init.ppid);
  if (parent == nullptr) return absl::OkStatus();
  Kind k = KindOf(*parent);
  std::string prog = ProgramName(*parent);
  if (k == Kind::kGvisor || k == Kind::kKata) {
    return absl::FailedPreconditionError(
        absl::StrCat("container ", ShortId(full_id), " is served by ", prog,
                     ": a sandboxed runtime; a host debugger cannot attach"));
  }
  if (k == Kind::kShim) {
    std::string sid = ArgAfter(parent->cmdline, "-id");
    std::string wd = ArgAfter(parent->cmdline, "-workdir");
    bool names = (!sid.empty() && SameContainerId(cref.id, sid)) ||
                 absl::StrContains(wd, full_id) ||
                 (parent->cmdline.size() > 1 && parent->cmdline[1] == full_id);
    evidence->push_back(absl::StrCat(
        "shim: parent ", parent->pid, " is ", prog,
        names ? " and names this container"
              : (sid.empty() ? ""
                             : absl::StrCat(" -id ", ShortId(sid),
                                            " (a pod sandbox's shim serves all its containers)"))));
  } else if (k == Kind::kMonitor) {
    evidence->push_back(
        absl::StrCat("monitor: parent ", parent->pid, " is conmon (CRI-O), not a target"));
  } else {
    evidence->push_back(absl::StrCat("parent: ", Describe(*parent)));
  }
  return absl::OkStatus();
}

absl::StatusOr<Choice> ChooseTarget(const ProcessInfo& init,
                                    const std::vector<const ProcessInfo*>& ordinary,
                                    const BinaryReadFn& read_binary, absl::string_view full_id,
                                    std::vector<std::string>* evidence) {
  Choice init_choice;
  init_choice.target = &init;
  init_choice.binary = read_binary(init, &init_choice.binary_error);
  if (!init_choice.binary.go_version().empty()) {
    evidence->push_back(
        absl::StrCat("target: the init is a Go program (", init_choice.binary.go_version(), ")"));
    return init_choice;
  }
  evidence->push_back(
      absl::StrCat("init is not a Go program (", init_choice.binary.path(),
                   init_choice.binary_error.empty() ? "" : ": " + init_choice.binary_error,
                   "); looking at the container's other processes"));
  std::vector<Choice> go;
  for (const ProcessInfo* p : ordinary) {
    if (p == &init) continue;
    Choice c;
    c.target = p;
    c.binary = read_binary(*p, nullptr);
    if (!c.binary.go_version().empty()) go.push_back(std::move(c));
  }
  if (go.size() > 1) {
    std::vector<std::string> list;
    list.reserve(go.size());
    for (const Choice& c : go) {
      list.push_back(absl::StrCat(Describe(*c.target), " ", c.binary.go_version()));
    }
    return absl::FailedPreconditionError(
        absl::StrCat("container ", ShortId(full_id), " runs ", go.size(),
                     " Go programs; kdbg debugs a container with one Go program (an admin can "
                     "inspect these with `kdbg-agent resolve --pid PID` on the node): ",
                     absl::StrJoin(list, "; ")));
  }
  if (go.size() == 1) {
    evidence->push_back(absl::StrCat("target: the only Go program in the container (",
                                     go[0].binary.go_version(), ")"));
    return std::move(go[0]);
  }
  return init_choice;
}

}  // namespace kdbg::agent
