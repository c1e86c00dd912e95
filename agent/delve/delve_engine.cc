#include "agent/delve/delve_engine.h"

#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "agent/delve/delve_home.h"
#include "agent/delve/delve_session.h"
#include "agent/delve/safe_end.h"
#include "agent/delve/trace_script.h"
#include "common/fd.h"
#include "common/log.h"
#include "common/pidfd.h"
#include "common/session_id.h"
#include "common/status.h"
#include "common/stream_connect.h"

namespace kdbg::delve {
namespace {

class Factory final : public DelveSessionFactory {
 public:
  explicit Factory(DelveOptions o) : options_(std::move(o)) {
    if (options_.clock == nullptr) options_.clock = RealClock::Get();
    if (options_.proc == nullptr) options_.proc = NewProcReader();
    if (options_.dialer == nullptr) options_.dialer = std::make_shared<SocketRpcDialer>();
    // The agent's alone: Delve's sockets are here, and their only guard is this mode.
    ::mkdir(options_.work_dir.c_str(), 0700);
    ::chmod(options_.work_dir.c_str(), 0700);
  }

  const DelveOptions& options() const override { return options_; }

  absl::StatusOr<std::unique_ptr<kdbg::agent::DebugSession>> StartTrace(
      const kdbg::agent::TraceSpec& spec, kdbg::agent::EventCallback on_event) override {
    std::string script_name = spec.script_name.empty() ? "trace.dlv" : spec.script_name;
    KDBG_ASSIGN_OR_RETURN(TraceScript script, ParseTraceScript(spec.script, script_name));
    KDBG_RETURN_IF_ERROR(CheckTarget(spec.pid, spec.binary, spec.executable));
    SessionConfig c;
    KDBG_RETURN_IF_ERROR(ChooseDelve(spec.binary.go_version(), spec.allow_unsupported_go, &c));
    c.id = spec.session_id.empty() ? NewSessionId() : spec.session_id;
    c.pid = spec.pid;
    c.executable = spec.executable;
    c.script = std::move(script);
    c.script_name = script_name;
    c.duration = spec.duration;
    c.max_hits = spec.max_hits;
    c.max_stop = spec.max_stop;
    int rate =
        spec.max_hits_per_second > 0 ? spec.max_hits_per_second : options_.default_hits_per_second;
    c.hits_per_second = std::max(1, std::min(rate, options_.max_hits_per_second));
    return StartSession(std::move(c), std::move(on_event));
  }

  absl::StatusOr<std::unique_ptr<kdbg::agent::DebugSession>> StartAttach(
      const kdbg::agent::AttachSpec& spec, kdbg::agent::EventCallback on_event) override {
    KDBG_RETURN_IF_ERROR(CheckTarget(spec.pid, spec.binary, spec.executable));
    SessionConfig c;
    KDBG_RETURN_IF_ERROR(ChooseDelve(spec.binary.go_version(), spec.allow_unsupported_go, &c));
    c.id = spec.session_id.empty() ? NewSessionId() : spec.session_id;
    c.pid = spec.pid;
    c.executable = spec.executable;
    c.attach_mode = true;
    c.max_stop = spec.max_stop;
    return StartSession(std::move(c), std::move(on_event));
  }

  std::vector<RecoveredSession> RecoverOrphans() override;
  void SweepSessionFiles(const std::set<std::string>& live);

 private:
  absl::StatusOr<std::unique_ptr<kdbg::agent::DebugSession>> StartSession(
      SessionConfig c, kdbg::agent::EventCallback on_event) {
    auto session = std::make_unique<DelveSession>(options_, std::move(c), std::move(on_event));
    KDBG_RETURN_IF_ERROR(session->Start());
    return std::unique_ptr<kdbg::agent::DebugSession>(std::move(session));
  }

  // The Delve for a target built with `go_version`: the newest bundled one supporting it. Outside
  // every range: FailedPrecondition saying what to do, or, when the user allowed it, the nearest
  // Delve with every event marked.
  absl::Status ChooseDelve(const std::string& go_version, bool allow_unsupported,
                           SessionConfig* c) {
    c->dlv_path = options_.dlv_path;
    if (options_.delves.empty()) return absl::OkStatus();
    GoSupport s = CheckGoSupport(options_.delves, go_version);
    if (go_version.empty()) s.supported = true;  // unknown: the newest, no claim
    if (s.delve != nullptr) c->dlv_path = s.delve->path;
    if (s.supported) return absl::OkStatus();
    if (!allow_unsupported) return absl::FailedPreconditionError(s.message);
    c->unsupported_go =
        absl::StrCat("UNSUPPORTED: ", go_version, " is outside Delve ", s.delve->version,
                     "'s supported range ", s.delve->go.ToString(), " (--allow-unsupported-go)");
    return absl::OkStatus();
  }

  // What the resolver's facts rule out before Delve is started (Delve attaches to a C program built
  // with -g, and fails late, after stopping the target, on a binary without DWARF). The process
  // itself (alive, same start time, not traced) was verified by the caller through the resolver.
  // `executable`, when given, supplies the DWARF (a stripped target's unstripped build, checked by
  // the agent for ELF, Go, DWARF and the target's build ID when it was uploaded).
  static absl::Status CheckTarget(pid_t pid, const kdbg::v1::BinaryInfo& binary,
                                  const std::string& executable) {
    if (pid <= 0) return absl::InvalidArgumentError(absl::StrCat("bad target pid ", pid));
    std::string shown = binary.path().empty() ? "" : absl::StrCat(" (", binary.path(), ")");
    if (binary.go_version().empty()) {
      return absl::FailedPreconditionError(
          absl::StrCat("process ", pid, shown,
                       " is not a Go program (the resolver found no Go build information): kdbg "
                       "debugs Go programs only"));
    }
    if (!binary.has_dwarf() && executable.empty()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "process ", pid, shown,
          " has no debug info; Delve would fail with \"could "
          "not open debug info - debuggee must not be built with 'go run' or -ldflags='-s -w', "
          "which strip debug info\": rebuild without -ldflags='-s -w'"));
    }
    return absl::OkStatus();
  }

  DelveOptions options_;
};

std::vector<RecoveredSession> Factory::RecoverOrphans() {
  std::vector<RecoveredSession> out;
  ProcReader& proc = *options_.proc;
  const std::string marker = absl::StrCat("KDBG_DELVE_OWNER=", options_.work_dir);
  std::set<std::string> live;  // sessions whose Delve still has its agent
  for (pid_t dlv_pid : proc.ListPids()) {
    auto argv = proc.Cmdline(dlv_pid);
    if (!argv.ok() || argv->size() < 3) continue;
    absl::string_view prog = (*argv)[0];
    if (size_t slash = prog.rfind('/'); slash != absl::string_view::npos)
      prog.remove_prefix(slash + 1);
    if (prog != "dlv" || (*argv)[1] != "attach") continue;
    auto env = proc.Environ(dlv_pid);
    if (!env.ok()) continue;
    RecoveredSession rec;
    bool ours = false;
    pid_t spawner = 0;
    for (const std::string& kv : *env) {
      if (kv == marker) ours = true;
      if (absl::StartsWith(kv, "KDBG_SESSION_ID=")) rec.session_id = kv.substr(16);
      if (absl::StartsWith(kv, "KDBG_DELVE_PARENT="))
        (void)absl::SimpleAtoi(kv.substr(18), &spawner);
    }
    if (!ours) continue;
    // Only orphans: a Delve still the child of the agent that spawned it belongs to a live session
    // (a guardian can run while its agent's successor already serves, both on one work_dir).
    auto dlv_status = proc.Status(dlv_pid);
    if (spawner > 0 && dlv_status.ok() && dlv_status->ppid == spawner) {
      live.insert(rec.session_id);
      continue;
    }
    rec.dlv_pid = dlv_pid;
    (void)absl::SimpleAtoi((*argv)[2], &rec.target_pid);
    std::string address;
    for (size_t i = 3; i < argv->size(); ++i) {
      absl::string_view a = (*argv)[i];
      if (absl::ConsumePrefix(&a, "--listen=")) address = std::string(a);
      if (a == "--listen" && i + 1 < argv->size()) address = (*argv)[i + 1];
    }
    std::vector<std::string> problems;
    SafeEndResult r;
    auto alive = [&proc, dlv_pid] { return proc.Status(dlv_pid).ok(); };
    auto a = DialReady(*options_.dialer, address, options_.attach_timeout, alive);
    auto b = a.ok() ? DialReady(*options_.dialer, address, options_.attach_timeout, alive)
                    : absl::StatusOr<std::unique_ptr<DelveClient>>(a.status());
    if (a.ok() && b.ok()) {
      SafeEndTimeouts t{options_.halt_timeout, options_.call_timeout};
      r = RunSafeEnd(**a, **b, rec.target_pid, proc, *options_.clock, t);
      problems.insert(problems.end(), r.problems.begin(), r.problems.end());
    } else {
      problems.push_back(absl::StrCat("cannot reach Delve at ", address, ": ",
                                      (a.ok() ? b.status() : a.status()).message()));
    }
    if (!WaitPidExit(dlv_pid, options_.detach_timeout)) {
      // Attached or not, SIGTERM: an attached Delve detaches on it; never SIGKILL it.
      ::kill(dlv_pid, SIGTERM);
      if (!WaitPidExit(dlv_pid, options_.detach_timeout)) {
        problems.push_back(absl::StrCat("Delve pid ", dlv_pid, " did not exit"));
      }
    }
    TargetCheck check = CheckTargetReleased(proc, rec.target_pid, absl::Seconds(3));
    rec.ended.set_reason(kdbg::v1::END_REASON_RECOVERED);
    rec.ended.set_target_alive(check.alive);
    rec.ended.set_target_traced(check.traced);
    if (r.target_exited) rec.ended.set_target_exit_status(r.exit_status);
    std::string msg = absl::StrCat(
        "recovered Delve pid ", dlv_pid, " left by a previous agent: ",
        check.alive ? (check.traced ? "target still traced" : "target running, detached")
                    : "target is gone",
        " (", r.cleared, " breakpoints cleared)");
    if (!problems.empty()) absl::StrAppend(&msg, "; ", absl::StrJoin(problems, "; "));
    rec.ended.set_message(msg);
    log::Warning("recovered leftover delve", {{"session", rec.session_id},
                                              {"dlv_pid", static_cast<int>(dlv_pid)},
                                              {"pid", static_cast<int>(rec.target_pid)},
                                              {"message", msg}});
    out.push_back(std::move(rec));
  }
  SweepSessionFiles(live);
  return out;
}

void Factory::SweepSessionFiles(const std::set<std::string>& live) {
  // Config homes (delve_home.h) a killed agent left, and sockets a killed Delve left; a live
  // session's stay, and so does any socket a Delve still serves.
  DIR* d = ::opendir(options_.work_dir.c_str());
  if (d == nullptr) return;
  std::vector<std::string> homes, sockets;
  while (dirent* e = ::readdir(d)) {
    absl::string_view name = e->d_name;
    std::vector<std::string>* stale = nullptr;
    if (absl::ConsumeSuffix(&name, kDelveHomeSuffix)) stale = &homes;
    if (absl::ConsumeSuffix(&name, kDelveSocketSuffix)) stale = &sockets;
    if (stale == nullptr || name.empty() || live.count(std::string(name)) > 0) continue;
    stale->push_back(absl::StrCat(options_.work_dir, "/", e->d_name));
  }
  ::closedir(d);
  for (const std::string& path : homes) {
    RemoveDelveHome(path);
    log::Info("stale Delve home removed", {{"path", path}});
  }
  for (const std::string& path : sockets) {
    // Only one nobody serves: a Delve that another agent on this work_dir started after the /proc
    // scan above (a successor serving while a guardian recovers) listens on its socket already.
    if (UnixSocketServed(path)) continue;
    ::unlink(path.c_str());
    log::Info("stale Delve socket removed", {{"path", path}});
  }
}

}  // namespace

std::unique_ptr<DelveSessionFactory> NewDelveSessionFactory(DelveOptions options) {
  return std::make_unique<Factory>(std::move(options));
}

}  // namespace kdbg::delve
