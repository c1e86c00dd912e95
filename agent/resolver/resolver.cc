#include <algorithm>
#include <map>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "agent/resolver/container_ref.h"
#include "agent/resolver/new_resolver.h"
#include "agent/resolver/runtime_state.h"
#include "common/status.h"

namespace kdbg::agent {
namespace {

// What a process is, from its name: the kinds that are never a debug target.
enum class Kind { kOrdinary, kPause, kShim, kMonitor, kGvisor, kKata };

std::string Basename(absl::string_view path) {
  size_t slash = path.rfind('/');
  return std::string(slash == absl::string_view::npos ? path : path.substr(slash + 1));
}

std::string ProgramName(const ProcessInfo& p) {
  if (!p.cmdline.empty()) return Basename(p.cmdline[0]);
  return p.comm;
}

Kind KindOf(const ProcessInfo& p) {
  std::string name = ProgramName(p);
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

std::string ArgAfter(const std::vector<std::string>& argv, absl::string_view flag) {
  for (size_t i = 0; i + 1 < argv.size(); ++i) {
    if (argv[i] == flag) return argv[i + 1];
  }
  return "";
}

std::string Short(absl::string_view id) { return std::string(id.substr(0, 12)); }

class ResolverImpl : public Resolver {
 public:
  explicit ResolverImpl(ResolverOptions o)
      : opts_(std::move(o)), state_(opts_.host_root, opts_.containerd_state_dirs) {
    table_ = opts_.process_table;
    if (!table_) {
      table_ = opts_.proc_root == "/proc"
                   ? std::shared_ptr<ProcessTable>(NewLiveProcessTable())
                   : std::shared_ptr<ProcessTable>(NewDirProcessTable(opts_.proc_root));
    }
    binaries_ = opts_.binary_reader ? opts_.binary_reader
                                    : std::shared_ptr<BinaryReader>(NewElfBinaryReader());
  }

  absl::StatusOr<kdbg::v1::ResolvedTarget> Resolve(const kdbg::v1::TargetRef& ref) override {
    if (ref.host_pid() > 0 && ref.container_id().empty()) return ResolvePid(ref.host_pid());
    if (ref.container_id().empty()) {
      return absl::InvalidArgumentError(
          "no target: give a container ID (containerd://<64 hex>) or a host PID");
    }
    KDBG_ASSIGN_OR_RETURN(ContainerRef cref, ParseContainerRef(ref.container_id()));
    return ResolveContainer(cref, ref.container_name());
  }

  absl::Status Verify(const kdbg::v1::ResolvedTarget& target) override {
    absl::StatusOr<ProcessInfo> p = table_->Inspect(target.host_pid());
    if (!p.ok()) {
      return absl::NotFoundError(
          absl::StrCat("process ", target.host_pid(),
                       " is gone (the container restarted or exited): resolve again"));
    }
    if (target.start_time_ticks() != 0 && p->start_time_ticks != target.start_time_ticks()) {
      return absl::FailedPreconditionError(
          absl::StrCat("PID ", target.host_pid(), " now belongs to another process (start time ",
                       p->start_time_ticks, ", resolved ", target.start_time_ticks(),
                       "): the target exited; resolve again"));
    }
    if (std::string problem = ProcessProblem(*p); !problem.empty()) {
      return absl::FailedPreconditionError(problem);
    }
    return absl::OkStatus();
  }

 private:
  // Problems of the process itself (not of its binary): zombie, already traced.
  std::string ProcessProblem(const ProcessInfo& p) {
    if (p.state == 'Z' || p.state == 'X') {
      return absl::StrCat(
          "process ", p.pid,
          " has exited (zombie, not yet reaped by its parent): nothing to attach to");
    }
    if (p.tracer_pid != 0) {
      std::string tracer = absl::StrCat("PID ", p.tracer_pid);
      if (auto t = table_->Inspect(p.tracer_pid); t.ok()) tracer = Describe(*t);
      return absl::StrCat("process ", p.pid, " is already traced by ", tracer,
                          ": only one debugger can attach; end that session (or detach it) first");
    }
    return "";
  }

  // Problems of the agent's own environment: Yama and capabilities. Empty when unknown.
  std::string PtraceProblem() {
    int scope = -1;
    if (auto s = table_->ReadFile("sys/kernel/yama/ptrace_scope"); s.ok()) {
      absl::SimpleAtoi(absl::StripAsciiWhitespace(*s), &scope);
    }
    if (scope >= 3) {
      return "ptrace is disabled on this node (kernel.yama.ptrace_scope=3, which only a reboot "
             "resets): "
             "no debugger can attach here";
    }
    bool cap = true;
    if (auto s = table_->ReadFile("self/status"); s.ok()) {
      for (absl::string_view line : absl::StrSplit(*s, '\n')) {
        if (absl::ConsumePrefix(&line, "CapEff:")) {
          uint64_t caps = 0;
          if (absl::SimpleHexAtoi(absl::StripAsciiWhitespace(line), &caps)) cap = (caps >> 19) & 1;
        }
      }
    }
    if (!cap) {
      return absl::StrCat(
          "the agent lacks CAP_SYS_PTRACE",
          scope >= 1 ? absl::StrCat(" and kernel.yama.ptrace_scope=", scope, " requires it") : "",
          ": add SYS_PTRACE to the agent's securityContext.capabilities.add");
    }
    return "";
  }

  // Reads the binary of `p`; an unreadable binary gives empty facts and `error`.
  kdbg::v1::BinaryInfo ReadBinary(const ProcessInfo& p, std::string* error) {
    absl::StatusOr<kdbg::v1::BinaryInfo> b = binaries_->Read(table_->ExePath(p.pid));
    kdbg::v1::BinaryInfo info;
    if (b.ok()) {
      info = *std::move(b);
    } else if (error != nullptr) {
      *error = std::string(b.status().message());
    }
    info.set_path(p.exe);
    return info;
  }

  void Finish(const ProcessInfo& p, const kdbg::v1::BinaryInfo& bin, const std::string& bin_error,
              kdbg::v1::ResolvedTarget* out) {
    out->set_host_pid(p.pid);
    out->set_start_time_ticks(p.start_time_ticks);
    for (const std::string& a : p.cmdline) out->add_cmdline(a);
    *out->mutable_binary() = bin;
    out->set_node_name(opts_.node_name);
    if (!p.nspid.empty()) out->set_container_pid_namespace_pid(p.nspid.back());
    std::string problem = ProcessProblem(p);
    if (problem.empty() && bin.go_version().empty()) {
      problem =
          bin_error.empty()
              ? absl::StrCat("process ", p.pid, " (", bin.path(),
                             ") is not a Go program: kdbg debugs Go programs only")
              : absl::StrCat("cannot read the executable of process ", p.pid, ": ", bin_error);
    }
    if (problem.empty() && GoVersionNewerThan(bin.go_version(), opts_.delve_max_go_version)) {
      problem =
          absl::StrCat("the program was built with ", bin.go_version(),
                       " but the bundled Delve supports Go up to ", opts_.delve_max_go_version,
                       ": upgrade the agent to one bundling a newer Delve");
    }
    if (problem.empty() && !bin.has_dwarf()) {
      problem = absl::StrCat("process ", p.pid, " (", bin.path(), ") has no debug information",
                             bin.stripped() ? " (stripped)" : "",
                             ": rebuild without -ldflags='-s -w' (and without strip), ideally with "
                             "go build -gcflags='all=-N -l', and redeploy");
    }
    if (problem.empty()) problem = PtraceProblem();
    if (problem.empty() && bin.optimized()) {
      out->add_evidence(
          "note: optimised build (no -gcflags='all=-N -l'): some variables and lines may be "
          "unavailable");
    }
    out->set_debuggable(problem.empty());
    out->set_problem(problem);
  }

  absl::StatusOr<kdbg::v1::ResolvedTarget> ResolvePid(pid_t pid) {
    absl::StatusOr<ProcessInfo> p = table_->Inspect(pid);
    if (!p.ok()) {
      return absl::NotFoundError(
          absl::StrCat("process ", pid, " not found under ", table_->root()));
    }
    kdbg::v1::ResolvedTarget out;
    out.set_runtime("unknown");
    out.add_evidence(absl::StrCat("pid: given ", Describe(*p)));
    if (auto m = MatchCgroupFile(p->cgroup)) {
      out.set_container_id(m->id);
      if (!m->runtime.empty()) out.set_runtime(m->runtime);
      out.add_evidence(absl::StrCat("cgroup: names container ", m->id, " (", m->layout, ")"));
    }
    std::string err;
    kdbg::v1::BinaryInfo bin = ReadBinary(*p, &err);
    Finish(*p, bin, err, &out);
    return out;
  }

  absl::StatusOr<kdbg::v1::ResolvedTarget> ResolveContainer(const ContainerRef& cref,
                                                            const std::string& name) {
    kdbg::v1::ResolvedTarget out;
    // 1. cgroup scan: a cheap substring test first, parsing only the files that mention the ID.
    std::vector<pid_t> member_pids, monitor_pids;
    std::string full_id = cref.id, runtime_from_cgroup, layout, pod_uid, example_line;
    size_t scanned = 0;
    KDBG_RETURN_IF_ERROR(table_->ScanCgroups([&](pid_t pid, absl::string_view text) {
      ++scanned;
      if (text.find(cref.id) == absl::string_view::npos) return;
      for (const CgroupLine& line : ParseCgroupFile(text)) {
        std::optional<CgroupMatch> m = MatchCgroupPath(line.path);
        if (!m || !SameContainerId(cref.id, m->id)) continue;
        if (m->role == CgroupRole::kMonitor) {
          monitor_pids.push_back(pid);
        } else {
          member_pids.push_back(pid);
          full_id = m->id;
          runtime_from_cgroup = m->runtime;
          layout = m->layout;
          pod_uid = m->pod_uid;
          if (example_line.empty())
            example_line = absl::StrCat(line.hierarchy, ":", line.controllers, ":", line.path);
        }
        break;
      }
    }));
    out.set_container_id(full_id);
    if (!member_pids.empty()) {
      out.add_evidence(absl::StrCat("cgroup: ", member_pids.size(), " of ", scanned,
                                    " processes name container ", Short(full_id), " (layout ",
                                    layout, pod_uid.empty() ? "" : ", pod " + pod_uid, "): pids ",
                                    absl::StrJoin(member_pids, ","), "; e.g. ", example_line));
    } else {
      out.add_evidence(absl::StrCat("cgroup: none of ", scanned, " processes under ",
                                    table_->root(), " names container ", Short(full_id)));
    }
    if (!monitor_pids.empty()) {
      out.add_evidence(absl::StrCat("cgroup: monitor (conmon) pids ",
                                    absl::StrJoin(monitor_pids, ","), ", not targets"));
    }

    // 2. runtime state files, each checked against the live process.
    std::map<pid_t, ProcessInfo> procs;
    auto inspect = [&](pid_t pid) -> const ProcessInfo* {
      auto it = procs.find(pid);
      if (it != procs.end()) return &it->second;
      absl::StatusOr<ProcessInfo> p = table_->Inspect(pid);
      if (!p.ok()) return nullptr;
      return &procs.emplace(pid, *std::move(p)).first->second;
    };
    std::string runtime_from_state, sandbox;
    pid_t state_init = 0;
    std::set<pid_t> members(member_pids.begin(), member_pids.end());
    for (const StateFact& f : state_.Lookup(full_id)) {
      if (!f.sandbox.empty()) {
        sandbox = f.sandbox;
        out.add_evidence(
            absl::StrCat(f.runtime, ": ", f.source, " exists: ", f.sandbox, " sandbox"));
        continue;
      }
      if (runtime_from_state.empty() && f.runtime != "runc" && f.runtime != "crun")
        runtime_from_state = f.runtime;
      const ProcessInfo* p = inspect(f.pid);
      std::string line = absl::StrCat(f.runtime, ": ", f.source, " -> ",
                                      f.monitor ? "monitor" : "init", " pid ", f.pid);
      if (p == nullptr) {
        out.add_evidence(absl::StrCat(line, ": no such process (stale file)"));
        continue;
      }
      if (f.start_ticks != 0 && f.start_ticks != p->start_time_ticks) {
        out.add_evidence(absl::StrCat(line, ": start time ", f.start_ticks, " != process's ",
                                      p->start_time_ticks, ": PID reused, ignored"));
        continue;
      }
      if (f.start_ticks != 0) absl::StrAppend(&line, ", start time ", f.start_ticks, " matches");
      if (f.monitor) {
        out.add_evidence(line);
        members.erase(f.pid);
        continue;
      }
      if (members.empty() || members.count(f.pid)) {
        absl::StrAppend(&line, members.empty() ? "" : " (agrees with cgroup)");
        if (state_init == 0) state_init = f.pid;
      } else {
        absl::StrAppend(&line, " (DISAGREES with cgroup; ignored)");
      }
      out.add_evidence(line);
    }
    if (!sandbox.empty()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "container ", Short(full_id), " runs in a ", sandbox == "gvisor" ? "gVisor" : "Kata",
          " sandbox: its processes live in the sandbox's own kernel, where a host debugger cannot "
          "attach; "
          "run the workload with runc/crun to debug it"));
    }
    // Private cgroup namespace: the state files' init and what shares its cgroup and descends from
    // it.
    if (members.empty() && state_init != 0) {
      const ProcessInfo* init = inspect(state_init);
      if (init != nullptr) {
        members.insert(state_init);
        std::string cg = init->cgroup;
        std::vector<pid_t> same;
        KDBG_RETURN_IF_ERROR(table_->ScanCgroups([&](pid_t pid, absl::string_view text) {
          if (pid != state_init && text == cg) same.push_back(pid);
        }));
        for (pid_t pid : same) {
          // Keep only descendants of the init.
          pid_t cur = pid;
          for (int depth = 0; depth < 64 && cur > 1; ++depth) {
            const ProcessInfo* p = inspect(cur);
            if (p == nullptr) break;
            if (p->ppid == state_init) {
              members.insert(pid);
              break;
            }
            cur = p->ppid;
          }
        }
        out.add_evidence(absl::StrCat("state: no cgroup line names the container; using init ",
                                      state_init, " and its descendants in the same cgroup: pids ",
                                      absl::StrJoin(members, ",")));
      }
    }
    std::string runtime = !cref.runtime.empty()          ? cref.runtime
                          : !runtime_from_cgroup.empty() ? runtime_from_cgroup
                          : !runtime_from_state.empty()  ? runtime_from_state
                                                         : "unknown";
    if (!cref.runtime.empty() && !runtime_from_cgroup.empty() &&
        runtime_from_cgroup != cref.runtime) {
      out.add_evidence(absl::StrCat("warning: the ID says ", cref.runtime,
                                    " but the cgroup layout says ", runtime_from_cgroup));
    }
    out.set_runtime(runtime);
    if (!name.empty()) out.add_evidence(absl::StrCat("container name (as given): ", name));

    if (members.empty()) {
      return absl::NotFoundError(
          absl::StrCat("no process of container ", full_id, " on this node",
                       opts_.node_name.empty() ? "" : " (" + opts_.node_name + ")",
                       ": searched the cgroup lines of ", scanned, " processes under ",
                       table_->root(), " and the runtime state files under ", opts_.host_root,
                       "; is the pod running on this node, and is the container started?"));
    }

    // 3. Classify members; find the container's init (parent outside the container).
    std::vector<const ProcessInfo*> ordinary;
    std::vector<std::string> excluded;
    for (pid_t pid : members) {
      const ProcessInfo* p = inspect(pid);
      if (p == nullptr) continue;  // exited meanwhile
      Kind k = KindOf(*p);
      if (k == Kind::kGvisor || k == Kind::kKata) {
        return absl::FailedPreconditionError(
            absl::StrCat("container ", Short(full_id), " runs in a ",
                         k == Kind::kGvisor ? "gVisor" : "Kata", " sandbox (process ", Describe(*p),
                         "): a host debugger cannot attach; run it with runc/crun to debug"));
      }
      if (k == Kind::kOrdinary) {
        ordinary.push_back(p);
      } else {
        excluded.push_back(
            absl::StrCat(Describe(*p), k == Kind::kPause ? " is pause" : " is a shim/monitor"));
      }
    }
    if (!excluded.empty())
      out.add_evidence(absl::StrCat("never targets: ", absl::StrJoin(excluded, "; ")));
    if (ordinary.empty()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "container ", Short(full_id), " holds only pause or monitor processes (",
          absl::StrJoin(excluded, "; "), "): pick the pod's application container (-c NAME)"));
    }
    const ProcessInfo* init = nullptr;
    for (const ProcessInfo* p : ordinary) {
      bool root = members.count(p->ppid) == 0;
      if (!root) continue;
      if (init == nullptr || p->pid == state_init ||
          (init->pid != state_init && p->start_time_ticks < init->start_time_ticks)) {
        init = p;
      }
    }
    if (init == nullptr) init = ordinary.front();
    out.add_evidence(absl::StrCat(
        "init: ", Describe(*init),
        init->nspid.empty() ? ""
                            : absl::StrCat(", pid ", init->nspid.back(), " in its namespace")));
    // Shim ancestry.
    if (const ProcessInfo* parent = inspect(init->ppid)) {
      Kind k = KindOf(*parent);
      std::string prog = ProgramName(*parent);
      if (k == Kind::kGvisor || k == Kind::kKata) {
        return absl::FailedPreconditionError(
            absl::StrCat("container ", Short(full_id), " is served by ", prog,
                         ": a sandboxed runtime; a host debugger cannot attach"));
      }
      if (k == Kind::kShim) {
        std::string sid = ArgAfter(parent->cmdline, "-id");
        std::string wd = ArgAfter(parent->cmdline, "-workdir");
        bool names = (!sid.empty() && SameContainerId(cref.id, sid)) ||
                     absl::StrContains(wd, full_id) ||
                     (parent->cmdline.size() > 1 && parent->cmdline[1] == full_id);
        out.add_evidence(absl::StrCat(
            "shim: parent ", parent->pid, " is ", prog,
            names ? " and names this container"
                  : (sid.empty()
                         ? ""
                         : absl::StrCat(" -id ", Short(sid),
                                        " (a pod sandbox's shim serves all its containers)"))));
      } else if (k == Kind::kMonitor) {
        out.add_evidence(
            absl::StrCat("monitor: parent ", parent->pid, " is conmon (CRI-O), not a target"));
      } else {
        out.add_evidence(absl::StrCat("parent: ", Describe(*parent)));
      }
    }

    // 4. The target: the init if Go, else the single Go process among the rest.
    std::string init_err;
    kdbg::v1::BinaryInfo init_bin = ReadBinary(*init, &init_err);
    if (!init_bin.go_version().empty()) {
      out.add_evidence(
          absl::StrCat("target: the init is a Go program (", init_bin.go_version(), ")"));
      Finish(*init, init_bin, init_err, &out);
      return out;
    }
    out.add_evidence(absl::StrCat("init is not a Go program (", init_bin.path(),
                                  init_err.empty() ? "" : ": " + init_err,
                                  "); looking at the container's other processes"));
    std::vector<std::pair<const ProcessInfo*, kdbg::v1::BinaryInfo>> go;
    for (const ProcessInfo* p : ordinary) {
      if (p == init) continue;
      kdbg::v1::BinaryInfo b = ReadBinary(*p, nullptr);
      if (!b.go_version().empty()) go.emplace_back(p, std::move(b));
    }
    if (go.size() > 1) {
      std::vector<std::string> list;
      for (const auto& [p, b] : go) list.push_back(absl::StrCat(Describe(*p), " ", b.go_version()));
      return absl::FailedPreconditionError(
          absl::StrCat("container ", Short(full_id), " runs ", go.size(),
                       " Go programs; debug one by host PID (--pid): ", absl::StrJoin(list, "; ")));
    }
    if (go.size() == 1) {
      out.add_evidence(absl::StrCat("target: the only Go program in the container (",
                                    go[0].second.go_version(), ")"));
      Finish(*go[0].first, go[0].second, "", &out);
      return out;
    }
    Finish(*init, init_bin, init_err, &out);
    return out;
  }

  ResolverOptions opts_;
  RuntimeStateReader state_;
  std::shared_ptr<ProcessTable> table_;
  std::shared_ptr<BinaryReader> binaries_;
};

}  // namespace

std::unique_ptr<Resolver> NewResolver(ResolverOptions options) {
  return std::make_unique<ResolverImpl>(std::move(options));
}

}  // namespace kdbg::agent
