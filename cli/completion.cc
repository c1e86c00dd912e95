#include "cli/completion.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <ostream>
#include <set>
#include <streambuf>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/synchronization/mutex.h"
#include "cli/command_util.h"
#include "cli/commands.h"

namespace kdbg::cli {

namespace {

bool Contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

// "--namespace=x" -> "--namespace"
std::string FlagName(const std::string& word) { return word.substr(0, word.find('=')); }

std::vector<std::string> Targets(const std::string& partial, const std::string& ns,
                                 CompletionSource& source) {
  std::vector<std::string> out;
  size_t slash = partial.find('/');
  std::string kind = slash == std::string::npos ? "" : partial.substr(0, slash);
  if (slash == std::string::npos || kind == "pod" || kind == "pods" || kind == "po") {
    for (const std::string& p : source.Pods(ns)) {
      out.push_back(slash == std::string::npos ? p : absl::StrCat(kind, "/", p));
    }
  }
  for (const std::string& w : source.Workloads(ns)) out.push_back(w);
  return out;
}

}  // namespace

std::string WorkloadOfPod(const std::string& pod,
                          const std::map<std::string, std::string>& labels) {
  auto label = [&](const char* key) -> std::string {
    auto it = labels.find(key);
    return it == labels.end() ? "" : it->second;
  };
  std::string hash = label("pod-template-hash");
  if (!hash.empty()) {
    size_t at = pod.rfind(absl::StrCat("-", hash, "-"));
    return at == std::string::npos || at == 0 ? "" : absl::StrCat("deploy/", pod.substr(0, at));
  }
  if (label("statefulset.kubernetes.io/pod-name") == pod) {
    size_t dash = pod.rfind('-');
    return dash == std::string::npos || dash == 0 ? "" : absl::StrCat("sts/", pod.substr(0, dash));
  }
  if (!label("pod-template-generation").empty()) {
    size_t dash = pod.rfind('-');
    return dash == std::string::npos || dash == 0 ? "" : absl::StrCat("ds/", pod.substr(0, dash));
  }
  return "";
}

std::vector<std::string> Complete(const CompletionSpec& spec, const std::vector<std::string>& words,
                                  CompletionSource& source) {
  std::string partial = words.empty() ? "" : words.back();
  std::vector<std::string> done(words.begin(), words.empty() ? words.begin() : words.end() - 1);
  const CompletionCommand* cmd = nullptr;
  std::string ns;
  std::string first_positional;
  int positionals = 0;
  std::string pending_flag;  // a flag whose value is the next word
  for (const std::string& w : done) {
    if (!pending_flag.empty()) {
      if (pending_flag == "-n" || pending_flag == "--namespace") ns = w;
      pending_flag.clear();
      continue;
    }
    if (absl::StartsWith(w, "-")) {
      std::string name = FlagName(w);
      if ((name == "-n" || name == "--namespace") && w.find('=') != std::string::npos) {
        ns = w.substr(w.find('=') + 1);
      }
      bool takes = Contains(spec.global_value_flags, name) ||
                   (cmd != nullptr && Contains(cmd->value_flags, name));
      if (takes && w.find('=') == std::string::npos) pending_flag = name;
      continue;
    }
    if (cmd == nullptr) {
      for (const auto& c : spec.commands) {
        if (c.name == w) cmd = &c;
      }
      continue;
    }
    if (positionals == 0) first_positional = w;
    ++positionals;
  }
  if (ns.empty()) ns = source.DefaultNamespace();

  std::vector<std::string> candidates;
  if (!pending_flag.empty()) {
    if (pending_flag == "-n" || pending_flag == "--namespace") {
      candidates = source.Namespaces();
    } else if (pending_flag == "-c" || pending_flag == "--container") {
      std::string pod = first_positional;
      if (absl::StartsWith(pod, "pod/")) pod = pod.substr(4);
      if (!pod.empty() && pod.find('/') == std::string::npos)
        candidates = source.Containers(ns, pod);
    } else if (cmd != nullptr && cmd->flag_values.count(pending_flag) != 0) {
      candidates = cmd->flag_values.at(pending_flag);
    }
    // Files (--init, --kubeconfig, ...) and free values: nothing, the shell completes files.
  } else if (cmd == nullptr) {
    if (absl::StartsWith(partial, "-")) {
      candidates = spec.global_flags;
    } else {
      for (const auto& c : spec.commands) candidates.push_back(c.name);
    }
  } else if (absl::StartsWith(partial, "-")) {
    candidates = cmd->flags;
    candidates.insert(candidates.end(), spec.global_flags.begin(), spec.global_flags.end());
  } else if (positionals < static_cast<int>(cmd->positionals.size())) {
    const std::string& what = cmd->positionals[positionals];
    if (what == "TARGET") {
      candidates = Targets(partial, ns, source);
    } else if (what == "SESSION-ID") {
      candidates = source.Sessions();
    } else if (positionals == 0) {
      candidates = cmd->positional_values;
    }
  }
  std::set<std::string> unique;
  for (const std::string& c : candidates) {
    if (absl::StartsWith(c, partial)) unique.insert(c);
  }
  return {unique.begin(), unique.end()};
}

absl::StatusOr<std::string> CompletionScript(const std::string& shell, const std::string& prog) {
  std::string script;
  if (shell == "bash") {
    script = R"(# bash completion for kdbg and kubectl-kdbg: source <(PROG completion bash)
_kdbg_complete() {
  local cur=${COMP_WORDS[COMP_CWORD]} IFS=$'\n'
  local out
  out=$(timeout 2 PROG __complete "${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null) || true
  COMPREPLY=($(compgen -W "$out" -- "$cur"))
}
complete -o default -F _kdbg_complete kdbg kubectl-kdbg
)";
  } else if (shell == "zsh") {
    script = R"(#compdef kdbg kubectl-kdbg
# zsh completion for PROG: source <(PROG completion zsh)   (after compinit)
_kdbg_complete() {
  local -a candidates
  candidates=("${(@f)$(timeout 2 PROG __complete "${(@)words[2,CURRENT]}" 2>/dev/null)}")
  candidates=(${candidates:#})
  if (( ${#candidates} )); then compadd -a candidates; else _files; fi
}
compdef _kdbg_complete kdbg kubectl-kdbg
)";
  } else if (shell == "fish") {
    script = R"(# fish completion for PROG: PROG completion fish | source
function __kdbg_complete
  set -l words (commandline -opc)
  set -l cur (commandline -ct)
  timeout 2 PROG __complete $words[2..-1] "$cur" 2>/dev/null
end
complete -c kdbg -f -a '(__kdbg_complete)'
complete -c kubectl-kdbg -f -a '(__kdbg_complete)'
)";
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("no completion for shell \"", shell, "\": use bash, zsh or fish"));
  }
  return absl::StrReplaceAll(script, {{"PROG", prog}});
}

}  // namespace kdbg::cli

namespace kdbg::cli {

namespace {

// Discards everything: Connect's progress lines must not reach the shell.
class NullBuffer final : public std::streambuf {
 protected:
  int overflow(int c) override { return c; }
};

class ClusterSource final : public CompletionSource {
 public:
  ClusterSource(GlobalOptions g, CommandEnv env) : g_(std::move(g)), env_(std::move(env)) {
    env_.out = &null_;
    env_.err = &null_;
  }

  std::string DefaultNamespace() override {
    Cluster* c = Open();
    return c == nullptr ? "default" : c->Namespace();
  }
  std::vector<std::string> Namespaces() override {
    kube::Client* api = Api();
    if (api == nullptr) return {};
    auto names = api->ListNamespaces();
    return names.ok() ? *names : std::vector<std::string>{};
  }
  std::vector<std::string> Pods(const std::string& ns) override {
    std::vector<std::string> out;
    for (const kube::Pod& p : ListPods(ns)) out.push_back(p.name);
    return out;
  }
  std::vector<std::string> Workloads(const std::string& ns) override {
    std::vector<std::string> out;
    for (const kube::Pod& p : ListPods(ns)) {
      std::string w = WorkloadOfPod(p.name, p.labels);
      if (!w.empty()) out.push_back(w);
    }
    return out;
  }
  std::vector<std::string> Containers(const std::string& ns, const std::string& pod) override {
    Cluster* c = Open();
    if (c == nullptr) return {};
    auto p = c->GetPod(ns, pod);
    if (!p.ok()) return {};
    std::vector<std::string> out;
    for (const auto& spec : p->containers) out.push_back(spec.name);
    for (const auto& spec : p->init_containers) out.push_back(spec.name);
    return out;
  }
  std::vector<std::string> Sessions() override {
    if (g_.controller.empty()) return {};  // never a port-forward from a completion
    internal::Console console(env_, OutputFormat::kText);
    auto conn = internal::Connect(g_, nullptr, env_, console);
    if (!conn.ok()) return {};
    kdbg::v1::ControllerListSessionsRequest req;
    req.set_namespace_(g_.namespace_.empty() ? conn->cluster->Namespace() : g_.namespace_);
    kdbg::v1::ControllerListSessionsResponse resp;
    grpc::ClientContext context;
    PrepareContext(&context, conn->token, kCompletionBudget);
    if (!conn->stub->ListSessions(&context, req, &resp).ok()) return {};
    std::vector<std::string> out;
    for (const auto& s : resp.sessions()) out.push_back(s.info().id());
    return out;
  }

 private:
  Cluster* Open() {
    if (!tried_) {
      tried_ = true;
      auto c = env_.open_cluster(g_);
      if (c.ok()) cluster_ = *std::move(c);
    }
    return cluster_.get();
  }
  kube::Client* Api() {
    Cluster* c = Open();
    return c == nullptr ? nullptr : c->Api();
  }
  const std::vector<kube::Pod>& ListPods(const std::string& ns) {
    auto it = pods_.find(ns);
    if (it != pods_.end()) return it->second;
    std::vector<kube::Pod> pods;
    if (kube::Client* api = Api(); api != nullptr) {
      auto list = api->ListPods(ns, {});
      if (list.ok()) pods = *std::move(list);
    }
    return pods_[ns] = std::move(pods);
  }

  GlobalOptions g_;
  CommandEnv env_;
  NullBuffer null_buffer_;
  std::ostream null_{&null_buffer_};
  bool tried_ = false;
  std::unique_ptr<Cluster> cluster_;
  std::map<std::string, std::vector<kube::Pod>> pods_;
};

}  // namespace

int RunComplete(const CompletionSpec& spec, const std::vector<std::string>& words,
                const GlobalOptions& g, const CommandEnv& env, bool cobra_directive,
                absl::Duration budget) {
  struct Shared {
    absl::Mutex mu;
    bool done ABSL_GUARDED_BY(mu) = false;
    std::vector<std::string> candidates ABSL_GUARDED_BY(mu);
  };
  auto shared = std::make_shared<Shared>();
  std::thread worker([shared, spec, words, g, env] {
    ClusterSource source(g, env);
    std::vector<std::string> found = Complete(spec, words, source);
    absl::MutexLock lock(&shared->mu);
    shared->candidates = std::move(found);
    shared->done = true;
  });
  bool finished = false;
  std::string out;
  {
    absl::MutexLock lock(&shared->mu);
    finished = shared->mu.AwaitWithTimeout(absl::Condition(&shared->done), budget);
    if (finished) {
      for (const std::string& c : shared->candidates) absl::StrAppend(&out, c, "\n");
    }
  }
  if (cobra_directive) absl::StrAppend(&out, ":0\n");
  *env.out << out << std::flush;
  if (finished) {
    worker.join();
    return 0;
  }
  // The cluster did not answer in time: leave at once, the worker still blocked in its call.
  std::fflush(nullptr);
  std::_Exit(0);
}

}  // namespace kdbg::cli
