#include <algorithm>
#include <map>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "agent/gobinary/build_info.h"
#include "agent/resolver/container_ref.h"
#include "agent/resolver/new_resolver.h"
#include "agent/resolver/resolve_steps.h"
#include "agent/resolver/runtime_state.h"
#include "common/status.h"

namespace kdbg::agent {
namespace {

constexpr int kCapSysPtrace = 19;

// CapEff of a status file ("CapEff:\t000001ffffffffff"); all bits set when absent (unknown).
uint64_t EffectiveCaps(absl::string_view status) {
  for (absl::string_view line : absl::StrSplit(status, '\n')) {
    if (absl::ConsumePrefix(&line, "CapEff:")) {
      uint64_t v = 0;
      if (absl::SimpleHexAtoi(absl::StripAsciiWhitespace(line), &v)) return v;
    }
  }
  return ~0ull;
}

}  // namespace

std::string NodePtraceProblem(ProcReader& proc) {
  int scope = -1;
  if (auto s = proc.ReadFile("sys/kernel/yama/ptrace_scope"); s.ok()) {
    if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(*s), &scope)) scope = -1;
  }
  if (scope >= 3) {
    return "ptrace is disabled on this node (kernel.yama.ptrace_scope=3, which only a reboot "
           "resets): no debugger can attach here";
  }
  uint64_t caps = ~0ull;
  if (auto s = proc.ReadFile("self/status"); s.ok()) caps = EffectiveCaps(*s);
  if (((caps >> kCapSysPtrace) & 1) == 0) {
    return absl::StrCat(
        "the agent lacks CAP_SYS_PTRACE",
        scope >= 1 ? absl::StrCat(" and kernel.yama.ptrace_scope=", scope, " requires it") : "",
        ": add SYS_PTRACE to the agent's securityContext.capabilities.add");
  }
  return "";
}

namespace {

class ResolverImpl : public Resolver {
 public:
  explicit ResolverImpl(ResolverOptions o)
      : opts_(std::move(o)), state_(opts_.host_root, opts_.containerd_state_dirs) {
    table_ = opts_.proc ? opts_.proc : std::shared_ptr<ProcReader>(NewProcReader(opts_.proc_root));
    binaries_ = opts_.binary_inspector
                    ? opts_.binary_inspector
                    : std::shared_ptr<gobinary::Inspector>(gobinary::NewElfInspector());
    if (opts_.only_own_node_pods) {
      if (auto self = table_->ReadFile("self/cgroup"); self.ok()) {
        node_pod_cgroup_ = NodePodCgroupRoot(*self);
      }
    }
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
      if (auto t = table_->Inspect(p.tracer_pid); t.ok()) {
        // TracerPid names the tracing thread; name its process (Delve traces from a thread).
        if (t->tgid > 0 && t->tgid != t->pid) {
          if (auto g = table_->Inspect(t->tgid); g.ok()) t = std::move(g);
        }
        tracer = Describe(*t);
      }
      return absl::StrCat("process ", p.pid, " is already traced by ", tracer,
                          ": only one debugger can attach; end that session (or detach it) first");
    }
    return "";
  }

  // The first field (real) and the others (effective, saved, filesystem) of a status file's
  // "Uid:\t65532\t65532\t65532\t65532" line; empty when there is none.
  static std::vector<uint64_t> StatusUids(absl::string_view status) {
    std::vector<uint64_t> uids;
    for (absl::string_view line : absl::StrSplit(status, '\n')) {
      if (!absl::ConsumePrefix(&line, "Uid:")) continue;
      for (absl::string_view f : absl::StrSplit(line, '\t', absl::SkipWhitespace())) {
        uint64_t v = 0;
        if (absl::SimpleAtoi(absl::StripAsciiWhitespace(f), &v)) uids.push_back(v);
      }
    }
    return uids;
  }

  // Problems of the agent's own environment for target `p`: Yama and capabilities. Empty when
  // unknown. A target of another UID needs, beside ptrace, CAP_DAC_READ_SEARCH (Delve opens its
  // /proc/PID/auxv, mode 0400 owned by that UID) and CAP_KILL (Delve stops its threads with
  // tgkill(SIGSTOP)); without CAP_KILL Delve attaches, then cannot halt the target to detach.
  std::string PtraceProblem(const ProcessInfo& p) {
    if (std::string node = NodePtraceProblem(*table_); !node.empty()) return node;
    constexpr int kCapDacReadSearch = 2, kCapKill = 5;
    uint64_t caps = ~0ull;  // unknown: assume present
    std::vector<uint64_t> own_uids;
    if (auto s = table_->ReadFile("self/status"); s.ok()) {
      own_uids = StatusUids(*s);
      caps = EffectiveCaps(*s);
    }
    auto has = [caps](int bit) { return ((caps >> bit) & 1) != 0; };
    uint64_t own_uid = own_uids.size() > 1 ? own_uids[1] : 0;  // effective; the agent runs as root
    std::vector<uint64_t> uids;
    if (auto s = table_->ReadFile(absl::StrCat(p.pid, "/status")); s.ok()) uids = StatusUids(*s);
    bool other_uid =
        std::any_of(uids.begin(), uids.end(), [own_uid](uint64_t u) { return u != own_uid; });
    if (other_uid) {
      std::vector<std::string> missing;
      if (!has(kCapDacReadSearch)) missing.push_back("CAP_DAC_READ_SEARCH");
      if (!has(kCapKill)) missing.push_back("CAP_KILL");
      if (!missing.empty()) {
        return absl::StrCat(
            "process ", p.pid, " runs as UID ", uids.front(), " and the agent (UID ", own_uid,
            ") lacks ", absl::StrJoin(missing, " and "),
            ", which Delve needs beside ptrace for a process of another user (to read its "
            "/proc/PID/auxv and to stop its threads): add DAC_READ_SEARCH and KILL to the "
            "agent's securityContext.capabilities.add (the shipped DaemonSet has them)");
      }
    }
    return "";
  }

  // Reads the binary of `p`; an unreadable binary gives empty facts and `error`.
  kdbg::v1::BinaryInfo ReadBinary(const ProcessInfo& p, std::string* error) {
    absl::StatusOr<gobinary::GoBinaryFacts> b = binaries_->Inspect(table_->ExePath(p.pid));
    kdbg::v1::BinaryInfo info;
    if (b.ok()) {
      info = ToBinaryInfo(*b);
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
    if (problem.empty()) problem = PtraceProblem(p);
    // The two problems a user can act on come last, so neither hides another: missing debug info
    // (an upload fixes it: `--debug-binary`, same build ID), then the Go version
    // (--allow-unsupported-go overrides it).
    if (problem.empty() && !bin.has_dwarf()) {
      problem = absl::StrCat(
          "process ", p.pid, " (", bin.path(), ") has no debug information",
          bin.stripped() ? " (stripped, -ldflags='-s -w')" : "", "; its Go build ID is ",
          bin.build_id().empty() ? "unknown" : bin.build_id(),
          ": pass the unstripped binary of the same build with --debug-binary FILE "
          "(`go tool buildid FILE` must print that ID), or rebuild without -ldflags='-s -w' and "
          "redeploy");
      out->set_needs_debug_binary(!bin.build_id().empty());
    }
    if (!bin.go_version().empty() && opts_.check_go_version) {
      GoVersionCheck go = opts_.check_go_version(bin.go_version());
      out->set_delve_version(go.delve_version);
      out->set_supported_go(go.supported_go);
      out->set_go_supported(go.supported);
      out->set_go_support_problem(go.problem);
      if (problem.empty() && !go.supported) problem = go.problem;
    } else {
      out->set_go_supported(!bin.go_version().empty());
    }
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
    KDBG_RETURN_IF_ERROR(CheckOwnNode(*p, absl::StrCat("process ", pid)));
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

  // The steps of resolve_steps.h, in order; each adds its evidence to `out`.
  absl::StatusOr<kdbg::v1::ResolvedTarget> ResolveContainer(const ContainerRef& cref,
                                                            const std::string& name) {
    kdbg::v1::ResolvedTarget out;
    std::vector<std::string> evidence;
    // Evidence gathered so far goes out with the target; errors carry their own message.
    auto flush = [&] {
      for (std::string& e : evidence) out.add_evidence(std::move(e));
      evidence.clear();
    };
    ProcessCache procs(table_.get());

    // 1. cgroup scan.
    KDBG_ASSIGN_OR_RETURN(CgroupMembers scan, ScanCgroupMembers(*table_, cref, &evidence));
    out.set_container_id(scan.full_id);
    const std::string& full_id = scan.full_id;

    // 2. runtime state files, each checked against the live process.
    std::set<pid_t> members(scan.members.begin(), scan.members.end());
    StateFileResult state = CheckStateFiles(state_.Lookup(full_id), procs, &members, &evidence);
    if (!state.sandbox.empty()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "container ", ShortId(full_id), " runs in a ",
          state.sandbox == "gvisor" ? "gVisor" : "Kata",
          " sandbox: its processes live in the sandbox's own kernel, where a host debugger cannot "
          "attach; run the workload with runc/crun to debug it"));
    }
    if (members.empty() && state.init != 0) {
      KDBG_RETURN_IF_ERROR(AddStateInitFamily(*table_, procs, state.init, &members, &evidence));
    }
    std::string runtime = !cref.runtime.empty()    ? cref.runtime
                          : !scan.runtime.empty()  ? scan.runtime
                          : !state.runtime.empty() ? state.runtime
                                                   : "unknown";
    if (!cref.runtime.empty() && !scan.runtime.empty() && scan.runtime != cref.runtime) {
      evidence.push_back(absl::StrCat("warning: the ID says ", cref.runtime,
                                      " but the cgroup layout says ", scan.runtime));
    }
    out.set_runtime(runtime);
    if (!name.empty()) evidence.push_back(absl::StrCat("container name (as given): ", name));
    if (members.empty()) {
      return absl::NotFoundError(
          absl::StrCat("no process of container ", full_id, " on this node",
                       opts_.node_name.empty() ? "" : " (" + opts_.node_name + ")",
                       ": searched the cgroup lines of ", scan.scanned, " processes under ",
                       table_->root(), " and the runtime state files under ", opts_.host_root,
                       "; is the pod running on this node, and is the container started?"));
    }

    // Only this node's pods (one machine may host several kubelets).
    for (pid_t m : members) {
      if (const ProcessInfo* p = procs.Get(m)) {
        KDBG_RETURN_IF_ERROR(CheckOwnNode(*p, absl::StrCat("container ", ShortId(full_id))));
        if (!node_pod_cgroup_.empty()) {
          evidence.push_back(
              absl::StrCat("node: below this node's pod cgroups ", node_pod_cgroup_));
        }
        break;
      }
    }

    // 3. classify the members, find the container's init and its parent.
    KDBG_ASSIGN_OR_RETURN(Classified classified,
                          ClassifyMembers(members, procs, full_id, &evidence));
    const ProcessInfo* init = FindInit(classified.ordinary, members, state.init, &evidence);
    KDBG_RETURN_IF_ERROR(CheckAncestry(*init, procs, cref, full_id, &evidence));

    // 4. the target.
    KDBG_ASSIGN_OR_RETURN(Choice choice, ChooseTarget(
                                             *init, classified.ordinary,
                                             [this](const ProcessInfo& p, std::string* error) {
                                               return ReadBinary(p, error);
                                             },
                                             full_id, &evidence));
    flush();
    Finish(*choice.target, choice.binary, choice.binary_error, &out);
    return out;
  }

  // NotFound when `p` is not one of this node's pods (node_pod_cgroup_ set and not above it).
  absl::Status CheckOwnNode(const ProcessInfo& p, const std::string& what) {
    if (node_pod_cgroup_.empty() || CgroupFileUnder(p.cgroup, node_pod_cgroup_)) {
      return absl::OkStatus();
    }
    std::string where = ParseCgroupFile(p.cgroup).empty()
                            ? std::string("no cgroup")
                            : absl::StrCat("cgroup ", ParseCgroupFile(p.cgroup).front().path);
    return absl::NotFoundError(absl::StrCat(
        what, " is not on this node", opts_.node_name.empty() ? "" : " (" + opts_.node_name + ")",
        ": process ", p.pid, " is in ", where, ", outside this node's pod cgroups ",
        node_pod_cgroup_,
        " (another kubelet on the same machine runs it; its node's agent debugs it)"));
  }

  ResolverOptions opts_;
  std::string node_pod_cgroup_;  // "" = no restriction
  RuntimeStateReader state_;
  std::shared_ptr<ProcReader> table_;
  std::shared_ptr<gobinary::Inspector> binaries_;
};

}  // namespace

kdbg::v1::BinaryInfo ToBinaryInfo(const gobinary::GoBinaryFacts& facts) {
  kdbg::v1::BinaryInfo info;
  info.set_go_version(facts.go_version);
  info.set_module_path(facts.module_path);
  info.set_build_id(facts.build_id);
  info.set_has_dwarf(facts.has_dwarf);
  info.set_optimized(facts.optimized);
  info.set_stripped(facts.stripped);
  return info;
}

std::unique_ptr<Resolver> NewResolver(ResolverOptions options) {
  return std::make_unique<ResolverImpl>(std::move(options));
}

}  // namespace kdbg::agent
