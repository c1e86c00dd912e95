#include "agent/service/engine.h"

#include <fcntl.h>
#include <sys/file.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "agent/delve/delve_engine.h"
#include "agent/delve/delve_versions.h"
#include "agent/ebpf/bpf_probes.h"
#include "agent/ebpf/ebpf_session.h"
#include "agent/ebpf/engine_choice.h"
#include "agent/gobinary/dwarf.h"
#include "agent/gobinary/function_match.h"
#include "agent/gobinary/go_binary.h"
#include "agent/resolver/new_resolver.h"
#include "agent/service/agent_cgroup.h"
#include "agent/service/health_server.h"
#include "agent/service/recovered_sessions.h"
#include "common/child_process.h"
#include "common/fd.h"
#include "common/log.h"
#include "common/proc_reader.h"
#include "common/status.h"

namespace kdbg::agent {
namespace {}  // namespace

absl::StatusOr<Engine> MakeEngine(const AgentConfig& config) {
  Engine e;
  // One /proc reader, rooted at --proc-root, for the resolver and the Delve engine alike.
  std::shared_ptr<ProcReader> proc(NewProcReader(config.proc_root));
  // Every bundled Delve, with the Go range its version supports (delve_versions.h).
  std::vector<std::string> problems;
  std::vector<delve::DelveBinary> delves = delve::ProbeDelves(config.dlv, &problems);
  for (const std::string& p : problems) {
    // Not fatal here: /readyz reports the missing Delve (CheckAgentReady) and sessions fail with
    // "cannot start Delve"; a Delve of unknown version is not used.
    log::Error("bundled Delve unusable", {{"error", p}});
  }
  std::vector<std::string> versions;
  versions.reserve(delves.size());
  for (const delve::DelveBinary& d : delves) versions.push_back(d.version);
  ResolverOptions ro;
  ro.check_go_version = delve::NewGoVersionCheck(delves);
  ro.proc_root = config.proc_root;
  ro.proc = proc;
  ro.host_root = config.host_root;
  ro.node_name = config.node_name;
  ro.containerd_state_dirs = config.containerd_state_dirs;
  e.resolver = NewResolver(std::move(ro));
  e.ready = [dlv = config.dlv, root = config.proc_root, proc]() -> absl::Status {
    if (absl::Status s = CheckAgentReady(dlv, root); !s.ok()) return s;
    if (std::string problem = NodePtraceProblem(*proc); !problem.empty()) {
      return absl::FailedPreconditionError(problem);
    }
    return absl::OkStatus();
  };
  // Tried for real once (a uprobe on the agent's own executable), so `kdbg version` and /readyz
  // say what a session would meet: a kernel that wants CAP_SYS_ADMIN for uprobes, a seccomp
  // filter, a missing uprobe PMU (agent/ebpf/bpf_probes.h, SelfTest).
  e.ebpf_problem = [] {
    absl::Status s = ebpf::SelfTest();
    return s.ok() ? std::string() : std::string(s.message());
  };

  // Delve and the guardian outside the agent container's cgroup (agent_cgroup.h).
  absl::StatusOr<std::string> self_cgroup = proc->ReadFile("self/cgroup");
  absl::StatusOr<std::vector<std::string>> outside =
      self_cgroup.ok()
          ? PrepareOutsideContainerCgroup(config.host_root + "/sys/fs/cgroup", *self_cgroup)
          : absl::StatusOr<std::vector<std::string>>(self_cgroup.status());
  if (outside.ok()) {
    e.outside_cgroup_procs = *outside;
  } else {
    log::Error(
        "Delve and the guardian stay in the agent container's cgroup: a kill of the whole "
        "container (OOM, runtime) would take them with it",
        {{"error", std::string(outside.status().message())}});
  }
  delve::DelveOptions d;
  d.join_cgroup_procs = e.outside_cgroup_procs;
  d.delves = delves;
  d.dlv_path = delves.empty() ? config.dlv : delves.back().path;
  d.work_dir = config.state_dir + "/delve";
  d.proc = proc;
  if (config.max_hits_per_second > 0) d.default_hits_per_second = config.max_hits_per_second;
  if (config.delve_max_hits_per_second > 0) {
    d.max_hits_per_second = config.delve_max_hits_per_second;
  }
  std::shared_ptr<delve::DelveSessionFactory> factory(
      delve::NewDelveSessionFactory(std::move(d)).release());
  // Trace sessions run on the eBPF engine when the script qualifies (or as --engine asks), else
  // on Delve; attach sessions on Delve (agent/ebpf/engine_choice.h). Each eBPF session records
  // its probes under the state directory, so a killed agent's are cleared by recovery.
  ebpf::EbpfOptions eo;
  eo.proc_root = config.proc_root;
  eo.record_dir = config.state_dir + "/ebpf";
  e.recovered_dir = config.state_dir + "/recovered";
  e.recover = [factory, eo, lock_path = config.state_dir + "/recover.lock",
               records = RecoveredSessions(e.recovered_dir)](const std::string& by) {
    // The guardian of a killed agent and its restarted successor may recover at the same moment:
    // one at a time, so no Delve is ended twice concurrently.
    UniqueFd lock(::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
    if (lock.valid()) ::flock(lock.get(), LOCK_EX);
    if (int cleared = ebpf::ClearLeftProbes(eo); cleared > 0) {
      log::Warning("cleared the uprobes of eBPF sessions a previous agent left",
                   {{"probes", cleared}});
    }
    std::vector<delve::RecoveredSession> found = factory->RecoverOrphans();
    for (const auto& r : found) {
      log::Warning("recovered a session left by a previous agent",
                   {{"session", r.session_id},
                    {"dlv_pid", static_cast<int>(r.dlv_pid)},
                    {"pid", static_cast<int>(r.target_pid)},
                    {"target_alive", r.ended.target_alive()},
                    {"target_traced", r.ended.target_traced()},
                    {"message", r.ended.message()}});
      kdbg::v1::EndedEvent ended = r.ended;
      ended.set_message(absl::StrCat(by, " ", ended.message()));
      if (absl::Status s = records.Record(r.session_id, ended); !s.ok()) {
        log::Error("cannot record a recovered session's end: the controller will audit it ERROR",
                   {{"session", r.session_id}, {"error", std::string(s.message())}});
      }
    }
    records.Sweep(absl::Now(), kRecoveredSessionTtl);
    return static_cast<int>(found.size());
  };
  std::shared_ptr<DebugSessionFactory> ebpf_factory(ebpf::NewEbpfSessionFactory(eo).release());
  e.factory = ebpf::NewEngineChoosingFactory(factory, std::move(ebpf_factory));
  e.delve_version = absl::StrJoin(versions, ",");
  e.inspect_binary = [](const std::string& path) -> absl::StatusOr<kdbg::v1::BinaryInfo> {
    absl::StatusOr<gobinary::GoBinaryFacts> facts = gobinary::InspectGoBinary(path);
    if (!facts.ok()) return facts.status();
    return ToBinaryInfo(*facts);
  };
  e.list_functions =
      [proc_root = config.proc_root, inlined_only = std::make_shared<gobinary::InlinedOnlyCache>()](
          const kdbg::v1::ResolvedTarget& target,
          const kdbg::v1::FunctionQuery& query) -> absl::StatusOr<kdbg::v1::FunctionList> {
    std::string exe = absl::StrCat(proc_root, "/", target.host_pid(), "/exe");
    KDBG_ASSIGN_OR_RETURN(std::unique_ptr<gobinary::GoBinary> opened,
                          gobinary::GoBinary::Open(exe));
    std::shared_ptr<const gobinary::GoBinary> bin(std::move(opened));
    gobinary::FunctionQuery q;
    q.regexp = query.regexp();
    q.offset = query.offset();
    q.limit = query.limit();
    q.exclude_runtime = query.exclude_runtime();
    // With the functions inlined at every call, from the DWARF (once per build).
    KDBG_ASSIGN_OR_RETURN(gobinary::FunctionMatches m,
                          gobinary::MatchFunctions(*bin, q, inlined_only->For(bin)));
    kdbg::v1::FunctionList list;
    for (const gobinary::FunctionSymbol& f : m.functions) {
      kdbg::v1::FunctionInfo* info = list.add_functions();
      info->set_name(f.name);
      info->set_address(f.address);
      info->set_size(f.size);
    }
    if (query.with_source() && !m.functions.empty()) {
      // Where each function was compiled, from the DWARF of the same opened binary.
      absl::StatusOr<std::unique_ptr<gobinary::DwarfReader>> dwarf = gobinary::DwarfReader::On(bin);
      for (int i = 0; dwarf.ok() && i < list.functions_size() && i < 100; ++i) {
        absl::StatusOr<gobinary::Function> fn = (*dwarf)->FindFunction(list.functions(i).name());
        if (!fn.ok()) continue;
        list.mutable_functions(i)->set_file(fn->file);
        list.mutable_functions(i)->set_line(fn->line);
      }
    }
    list.set_total(m.total);
    list.set_host_pid(target.host_pid());
    list.set_binary(target.binary().path());
    return list;
  };
  return e;
}

}  // namespace kdbg::agent
