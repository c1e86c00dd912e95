#include "cli/app.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <iostream>

#include "CLI/CLI.hpp"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "cli/completion.h"
#include "cli/quick_trace.h"
#include "cli/target.h"

namespace kdbg::cli {

namespace {
// The values of the flags that take one of a few words: checked by CLI11 and offered by the shell
// completion (cli/completion.h).
const std::vector<std::string> kOutputFormats = {"text", "json"};
const std::vector<std::string> kSessionsFormats = {"text", "wide", "json", "yaml"};
const std::vector<std::string> kEngines = {"auto", "ebpf", "delve"};
const std::vector<std::string> kShells = {"bash", "zsh", "fish"};

// What the completion needs to know of the command line, read from CLI11's own definition.
CompletionSpec SpecOf(CLI::App& app) {
  CompletionSpec spec;
  auto flags_of = [](CLI::App* a, std::vector<std::string>* flags,
                     std::vector<std::string>* value_flags, std::vector<std::string>* positionals) {
    for (CLI::Option* opt : a->get_options()) {
      if (opt->get_positional()) {
        if (positionals != nullptr) positionals->push_back(opt->get_name(true));
        continue;
      }
      for (const std::string& n : opt->get_lnames()) {
        flags->push_back("--" + n);
        if (opt->get_type_size() != 0) value_flags->push_back("--" + n);
      }
      for (const std::string& n : opt->get_snames()) {
        flags->push_back("-" + n);
        if (opt->get_type_size() != 0) value_flags->push_back("-" + n);
      }
    }
  };
  flags_of(&app, &spec.global_flags, &spec.global_value_flags, nullptr);
  for (CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) {
    if (sub->get_group().empty()) continue;  // hidden
    CompletionCommand c;
    c.name = sub->get_name();
    flags_of(sub, &c.flags, &c.value_flags, &c.positionals);
    bool sessions = c.name == "sessions";
    c.flag_values["-o"] = c.flag_values["--output"] = sessions ? kSessionsFormats : kOutputFormats;
    c.flag_values["--engine"] = kEngines;
    if (c.name == "completion") c.positional_values = kShells;
    spec.commands.push_back(std::move(c));
  }
  return spec;
}

constexpr char kAllowUnsupportedGoHelp[] =
    "attach even if the target's Go version is outside the bundled Delve's supported range "
    "(shown by `resolve`); undefined behaviour: values may be missing or wrong, and every line "
    "printed is marked";
}  // namespace
namespace {

std::string FindOnPath(const std::string& name, const std::string& path) {
  for (absl::string_view dir : absl::StrSplit(path, ':', absl::SkipEmpty())) {
    std::string candidate = absl::StrCat(dir, "/", name);
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

std::string Basename(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// The real cluster and controller access, unless the caller (a test) injected its own.
void InstallDefaults(AppEnv* env) {
  CommandEnv& cmd = env->command;
  if (!cmd.open_cluster) {
    ClusterOptions base;
    base.kubeconfig_env = env->getenv("KUBECONFIG");
    base.home = env->getenv("HOME");
    cmd.open_cluster = [base](const GlobalOptions& g) {
      ClusterOptions o = base;
      o.kubeconfig = g.kubeconfig;
      o.context = g.context;
      return OpenCluster(o);
    };
  }
  if (!cmd.find_controller) {
    std::string kubectl = env->getenv("KDBG_KUBECTL");
    cmd.find_controller = [kubectl](const GlobalOptions& g, const std::vector<std::string>& args,
                                    std::function<bool()> give_up) {
      EndpointOptions o;
      o.address = g.controller;
      if (!kubectl.empty()) o.kubectl = kubectl;
      o.kubectl_args = args;
      o.give_up = std::move(give_up);
      return FindController(o);
    };
  }
}

}  // namespace

AppEnv DefaultAppEnv(std::ostream* out, std::ostream* err, int interrupt_fd) {
  AppEnv env;
  env.command.out = out;
  env.command.err = err;
  env.command.interrupt_fd = interrupt_fd;
  env.command.cli_version = KDBG_VERSION;
  env.getenv = [](const std::string& name) {
    const char* v = std::getenv(name.c_str());
    return std::string(v == nullptr ? "" : v);
  };
  env.interactive = ::isatty(0) && ::isatty(1);
  env.stdout_terminal = ::isatty(1);
  return env;
}

int RunApp(const std::vector<std::string>& argv, AppEnv env) {
  std::string prog = Basename(argv.empty() ? "kdbg" : argv[0]);
  std::string name = prog == "kubectl-kdbg" ? "kubectl kdbg" : "kdbg";
  CLI::App app("kdbg: emergency debugging of Go services running in Kubernetes", name);
  app.require_subcommand(1);
  app.footer(absl::StrCat(
      "Examples:\n"
      "  ",
      name,
      " resolve pod/hello-world\n"
      "  ",
      name,
      " trace pod/hello-world '^main\\.handle'      # every matching function, with its args\n"
      "  ",
      name,
      " trace pod/hello-world --init trace.txt --duration 30s\n"
      "  ",
      name,
      " funcs pod/hello-world '^main\\.'\n"
      "  ",
      name,
      " attach hello-world -c app\n"
      "  ",
      name,
      " sessions -A\n"
      "\nFlags work as in kubectl: -n/--namespace, -A/--all-namespaces, -c/--container, "
      "-o/--output, --context, --kubeconfig; TARGET is pod/NAME or NAME, in the context's "
      "namespace unless -n. Your own kubeconfig credentials are used; the cluster's RBAC "
      "(kdbg-user) decides what you may debug.\n"
      "\nEnvironment: KUBECONFIG, KDBG_CONTROLLER (HOST:PORT), KDBG_CONTROLLER_CA (PEM file)."));

  GlobalOptions g;
  std::string output = "text";
  app.add_option("--kubeconfig", g.kubeconfig,
                 "kubeconfig file (else $KUBECONFIG, else ~/.kube/config)");
  app.add_option("--context", g.context, "kubeconfig context (else the current context)");
  app.add_option("--controller", g.controller,
                 "controller HOST:PORT (else $KDBG_CONTROLLER, else a kubectl port-forward to "
                 "service kdbg-system/kdbg-controller)");
  app.add_option("--controller-ca", g.controller_ca,
                 "CA certificate (PEM) the controller's certificate must chain to (else "
                 "$KDBG_CONTROLLER_CA, else the system roots)");

  auto add_target = [&](CLI::App* cmd, TargetOptions* t) {
    cmd->add_option("TARGET", t->target,
                    "pod/NAME or NAME; trace also takes deploy/NAME, statefulset/NAME, "
                    "daemonset/NAME, replicaset/NAME, job/NAME");
    cmd->add_option("-l,--selector", t->selector,
                    "label selector, as kubectl's (app=web,tier in (a,b),!canary), instead of "
                    "TARGET: every Running pod it selects");
    cmd->add_option(
        "-c,--container", t->container,
        "container (else the kubectl.kubernetes.io/default-container annotation, else the "
        "first)");
    cmd->add_option("-n,--namespace", g.namespace_, "namespace (else the context's)");
  };
  auto add_output = [&](CLI::App* cmd) {
    cmd->add_option("-o,--output", output, "text or json (JSON Lines)")
        ->check(CLI::IsMember(kOutputFormats));
  };

  TraceCommandOptions trace;
  std::string duration;
  std::string lease;
  auto* trace_cmd =
      app.add_subcommand("trace", "trace functions of a running pod with a trace script");
  add_target(trace_cmd, &trace.target);
  trace_cmd->add_option("REGEXP", trace.regexp,
                        "quick trace without a script: every function whose name matches this "
                        "regular expression (Go syntax, as `dlv trace` takes it), with its "
                        "arguments");
  trace_cmd->add_option("--init", trace.init_file, "trace script file (instead of a REGEXP)");
  trace_cmd
      ->add_option("--print", trace.prints,
                   "with a REGEXP: also print this Go expression at each hit (repeatable)")
      ->allow_extra_args(false);  // one expression per --print; the next word is not one
  trace_cmd
      ->add_option("--stack", trace.stack_depth,
                   "with a REGEXP: also print the goroutine's stack, N frames")
      ->check(CLI::Range(1, 100));
  trace_cmd
      ->add_option("--max-funcs", trace.max_funcs,
                   "with a REGEXP: refuse a pattern matching more functions than this (default "
                   "20, at most 100)")
      ->check(CLI::Range(1, 100));
  trace_cmd->add_option("--duration", duration,
                        "end after this long (30s, 5m, 1h); default: until Ctrl-C");
  trace_cmd
      ->add_option("--max-hits", trace.max_hits,
                   "end after N hits (a workload or -l: in total, over every pod)")
      ->check(CLI::NonNegativeNumber);
  trace_cmd
      ->add_option("--max-hits-per-pod", trace.max_hits_per_pod,
                   "a workload or -l: end each pod's part after N hits")
      ->check(CLI::NonNegativeNumber);
  trace_cmd
      ->add_option("--max-pods", trace.target.max_pods,
                   "a workload or -l: trace at most N of its Running pods, spread over nodes "
                   "(the cluster's policy caps a session, default 10)")
      ->check(CLI::PositiveNumber);
  trace_cmd
      ->add_option("--rate-limit", trace.rate_limit,
                   "hits per second a tracepoint may take before it is cleared to protect the "
                   "service (default: Delve 100, at most 1000; eBPF 10000, at most 100000)")
      ->check(CLI::NonNegativeNumber);
  trace_cmd
      ->add_option("--rate-limit-total", trace.rate_limit_total,
                   "a workload or -l: show at most N hits per second over every pod together; "
                   "the controller counts the hits over it and says how many (each pod's own "
                   "--rate-limit still applies)")
      ->check(CLI::NonNegativeNumber);
  trace_cmd
      ->add_option("--engine", trace.engine,
                   "auto (default): eBPF uprobes when the whole script qualifies (functions "
                   "and lines, printed parameters, locals and fields), else Delve; ebpf; delve")
      ->check(CLI::IsMember(kEngines));
  trace_cmd->add_flag("--no-returns", trace.no_returns,
                      "report calls only: the eBPF engine then sets no probe on the functions' "
                      "RET instructions, which cost the target several times a call's probe");
  trace_cmd->add_option("--lease", lease,
                        "hard upper bound on the session, enforced by the agent even if this CLI "
                        "vanishes (capped by the cluster's policy); default: the cluster's");
  const char* kDebugBinaryHelp =
      "the unstripped binary of the target's very build (same Go build ID), for a target built "
      "with -ldflags='-s -w': sent to the pod's agent, which has Delve read symbols from it and "
      "deletes it when the session ends";
  trace_cmd->add_option("--debug-binary", trace.debug_binary, kDebugBinaryHelp);
  trace_cmd->add_flag("--allow-unsupported-go", trace.allow_unsupported_go,
                      kAllowUnsupportedGoHelp);
  trace_cmd->add_flag("--stats", trace.stats,
                      "a live view instead of one line per hit: hits/s per tracepoint, the top "
                      "values of each printed expression, the engine's overhead estimate "
                      "(redrawn in place on a terminal, plain lines every 5 s otherwise)");
  add_output(trace_cmd);
  trace_cmd->footer(absl::StrCat(
      "Examples:\n"
      "  ",
      name,
      " trace pod/hello-world '^main\\.handle'            # every main.handle* with its args\n"
      "  ",
      name,
      " trace hello-world 'ServeHTTP$' --print r.URL.Path --stack 5\n"
      "  ",
      name,
      " trace pod/hello-world '^main\\.' --stats               # hits/s and top values, live\n"
      "  cat > trace.txt <<EOF\n"
      "  trace handleSlash main.go:10\n"
      "  on handleSlash print r.RemoteAddr\n"
      "  continue\n"
      "  EOF\n"
      "  ",
      name,
      " trace pod/hello-world --init trace.txt\n"
      "  ",
      name,
      " trace hello-world -n shop -c app --init trace.txt --duration 30s --max-hits 100 -o json\n"
      "  ",
      name,
      " trace pod/api-0 --init trace.txt --debug-binary ./api.debug   # stripped image\n"
      "  ",
      name,
      " trace deploy/web --init trace.txt --max-pods 3   # every replica, one stream\n"
      "  ",
      name,
      " trace -l 'app=web,tier in (api)' --init trace.txt -o json\n"
      "Progress goes to stderr, hits to stdout. Ctrl-C ends the session safely; a second Ctrl-C "
      "quits at once."));

  AttachCommandOptions attach;
  auto* attach_cmd =
      app.add_subcommand("attach", "open a Delve server session and tunnel it to a local port");
  add_target(attach_cmd, &attach.target);
  attach_cmd->add_option("--listen", attach.listen,
                         "local address (default 127.0.0.1 and a free port)");
  attach_cmd->add_flag("--headless", attach.headless, "do not start `dlv connect`");
  attach_cmd->add_option("--debug-binary", attach.debug_binary, kDebugBinaryHelp);
  attach_cmd->add_flag("--allow-unsupported-go", attach.allow_unsupported_go,
                       kAllowUnsupportedGoHelp);
  attach_cmd->add_flag("--vscode", attach.vscode,
                       "write the configuration into .vscode/launch.json (merged: other "
                       "configurations are kept) of --source DIR, else the current directory");
  attach_cmd->add_flag("--goland", attach.goland,
                       "write a GoLand \"Go Remote\" run configuration into "
                       ".idea/runConfigurations/");
  attach_cmd->add_option("--source", attach.source,
                         "your checkout of the target's source, to map the build's paths to "
                         "(substitutePath); default: the current directory when it holds go.mod");
  attach_cmd->footer(absl::StrCat(
      "Examples:\n"
      "  ",
      name,
      " attach pod/hello-world\n"
      "  ",
      name,
      " attach hello-world --listen 127.0.0.1:2345 --headless   # then: dlv connect "
      "127.0.0.1:2345\n"
      "  ",
      name,
      " attach pod/api-0 --headless --vscode --source ~/src/api   # then Run and Debug in VS "
      "Code\n"
      "Closing kdbg (Ctrl-C) ends the session: the agent detaches and the target keeps running."));

  FuncsCommandOptions funcs;
  auto* funcs_cmd = app.add_subcommand(
      "funcs", "list the functions of a pod's Go program that can be traced (from its symbols)");
  add_target(funcs_cmd, &funcs.target);
  funcs_cmd->add_option("REGEXP", funcs.regexp,
                        "only names matching this regular expression (Go syntax, unanchored)");
  funcs_cmd->add_option("--limit", funcs.limit, "at most N names (default: all, up to 20000)")
      ->check(CLI::NonNegativeNumber);
  funcs_cmd->add_option("--offset", funcs.offset, "skip the first N matches (paging)")
      ->check(CLI::NonNegativeNumber);
  funcs_cmd->add_flag("--runtime", funcs.runtime,
                      "include the Go runtime's own packages (runtime, internal/runtime/..., "
                      "sync/atomic), which a quick trace never arms");
  add_output(funcs_cmd);
  funcs_cmd->footer(absl::StrCat("Examples:\n  ", name, " funcs pod/hello-world '^main\\.'\n  ",
                                 name, " funcs web-0 -n shop ServeHTTP\n  ", name,
                                 " funcs pod/api-0 | less          # one name per line\n  ", name,
                                 " funcs pod/api-0 --limit 100 --offset 100 -o json\n"
                                 "Names print on stdout, the count on stderr."));

  TargetOptions resolve;
  auto* resolve_cmd =
      app.add_subcommand("resolve", "show what would be debugged and whether it can be");
  add_target(resolve_cmd, &resolve);
  add_output(resolve_cmd);
  resolve_cmd->footer(absl::StrCat("Examples:\n  ", name, " resolve pod/hello-world\n  ", name,
                                   " resolve web-0 -n shop -c app -o json"));

  SessionsCommandOptions sessions;
  auto* sessions_cmd = app.add_subcommand("sessions", "list debug sessions (like kubectl get)");
  auto* ns_opt =
      sessions_cmd->add_option("-n,--namespace", g.namespace_, "namespace (else the context's)");
  sessions_cmd->add_flag("-A,--all-namespaces", sessions.all_namespaces, "every namespace")
      ->excludes(ns_opt);
  sessions_cmd
      ->add_option("-o,--output", sessions.output,
                   "wide (more columns), json (one object per line) or yaml; default: a table")
      ->check(CLI::IsMember(kSessionsFormats));
  sessions_cmd->add_flag("--no-headers", sessions.no_headers, "table rows without the header");
  sessions_cmd->footer(absl::StrCat("Examples:\n  ", name, " sessions\n  ", name,
                                    " sessions -A -o wide\n  ", name, " sessions -o yaml\n  ", name,
                                    " sessions --no-headers | awk '{print $1}'"));

  std::string session_id;
  auto* stop_cmd = app.add_subcommand("stop", "end a debug session safely");
  stop_cmd->add_option("SESSION-ID", session_id, "as `sessions` lists it")->required();
  stop_cmd->footer(absl::StrCat("Examples:\n  ", name, " stop 3f2a9c1e"));

  auto* version_cmd =
      app.add_subcommand("version", "versions of the CLI, controller, agents and their Delve");
  version_cmd->footer(absl::StrCat("Examples:\n  ", name, " version"));

  std::string shell;
  auto* completion_cmd =
      app.add_subcommand("completion", "print the shell completion script (bash, zsh or fish)");
  completion_cmd->add_option("SHELL", shell, "bash, zsh or fish")
      ->required()
      ->check(CLI::IsMember(kShells));
  completion_cmd->footer(absl::StrCat(
      "Examples:\n  source <(", name == "kdbg" ? "kdbg" : "kubectl-kdbg",
      " completion bash)        # in ~/.bashrc\n  source <(kdbg completion zsh)         # in "
      "~/.zshrc, after compinit\n  kdbg completion fish | source\n"
      "Tab then completes commands, flags, namespaces (-n), pods and workloads (TARGET), "
      "containers (-c) and, with --controller or $KDBG_CONTROLLER, session IDs (stop); the "
      "cluster is asked with your credentials for at most a second.\n"
      "For `kubectl kdbg <Tab>` (kubectl 1.26+), link kdbg as kubectl_complete-kdbg on your "
      "PATH."));

  for (auto* cmd : {trace_cmd, attach_cmd, funcs_cmd, resolve_cmd, sessions_cmd, stop_cmd,
                    version_cmd, completion_cmd}) {
    cmd->fallthrough();  // global flags may follow the subcommand
  }

  std::vector<std::string> args(argv.size() > 1 ? argv.begin() + 1 : argv.end(), argv.end());
  // Shell completion: `kdbg __complete WORD...` (hidden), or run as kubectl_complete-kdbg.
  bool cobra = prog == "kubectl_complete-kdbg";
  if (cobra || (!args.empty() && args[0] == "__complete")) {
    std::vector<std::string> words(cobra ? args.begin() : args.begin() + 1, args.end());
    GlobalOptions cg;
    for (size_t i = 0; i < words.size(); ++i) {
      auto value = [&](const std::string& flag, std::string* to) {
        if (words[i] == flag && i + 1 < words.size()) *to = words[i + 1];
        if (absl::StartsWith(words[i], flag + "=")) *to = words[i].substr(flag.size() + 1);
      };
      value("--kubeconfig", &cg.kubeconfig);
      value("--context", &cg.context);
      value("--controller", &cg.controller);
      value("--controller-ca", &cg.controller_ca);
      value("--namespace", &cg.namespace_);
      value("-n", &cg.namespace_);
    }
    if (cg.controller.empty()) cg.controller = env.getenv("KDBG_CONTROLLER");
    if (cg.controller_ca.empty()) cg.controller_ca = env.getenv("KDBG_CONTROLLER_CA");
    InstallDefaults(&env);
    return RunComplete(SpecOf(app), words, cg, env.command, cobra);
  }
  std::reverse(args.begin(), args.end());  // CLI11 takes them reversed
  try {
    app.parse(args);
  } catch (const CLI::CallForHelp&) {
    *env.command.out << app.help();
    return 0;
  } catch (const CLI::CallForAllHelp&) {
    *env.command.out << app.help("", CLI::AppFormatMode::All);
    return 0;
  } catch (const CLI::ParseError& e) {
    std::string what = e.what();
    for (char& c : what) {
      if (c == '\n') c = ' ';
    }
    *env.command.err << "kdbg: error: " << what << " (see " << name << " --help)\n";
    return 2;
  }

  if (g.controller.empty()) g.controller = env.getenv("KDBG_CONTROLLER");
  if (g.controller_ca.empty()) g.controller_ca = env.getenv("KDBG_CONTROLLER_CA");
  auto status = ParseOutputFormat(output, &g.format);
  (void)status;  // CLI11 already checked the value

  InstallDefaults(&env);
  CommandEnv& cmd = env.command;
  if (*completion_cmd) {
    auto script = CompletionScript(shell, prog == "kubectl-kdbg" ? "kubectl-kdbg" : "kdbg");
    if (!script.ok()) {
      *env.command.err << "kdbg: error: " << script.status().message() << "\n";
      return 2;
    }
    *env.command.out << *script;
    return 0;
  }
  // A command that debugs something needs TARGET or -l: a usage error (exit 2), in the words of
  // the one target grammar (cli/target.h).
  for (auto [sub, t] : {std::pair{trace_cmd, &trace.target}, std::pair{attach_cmd, &attach.target},
                        std::pair{funcs_cmd, &funcs.target}, std::pair{resolve_cmd, &resolve}}) {
    if (*sub && t->target.empty() && t->selector.empty()) {
      *env.command.err << "kdbg: error: " << ParseTargetSpec("", "").status().message() << " (see "
                       << name << " " << sub->get_name() << " --help)\n";
      return 2;
    }
  }
  if (*trace_cmd) {
    // With -l the one positional given is the REGEXP (there is no TARGET).
    if (!trace.target.selector.empty() && trace.regexp.empty() && !trace.target.target.empty() &&
        trace.init_file.empty()) {
      trace.regexp = trace.target.target;
      trace.target.target.clear();
    }
    if (trace.init_file.empty() == trace.regexp.empty()) {
      *env.command.err << "kdbg: error: "
                       << (trace.init_file.empty()
                               ? "give a REGEXP of functions to trace or a script with --init FILE"
                               : "give either a REGEXP or --init FILE, not both")
                       << " (see " << name << " trace --help)\n";
      return 2;
    }
    if (!trace.init_file.empty() && (!trace.prints.empty() || trace.stack_depth > 0)) {
      *env.command.err << "kdbg: error: --print and --stack go with a REGEXP; in a script write "
                          "`on NAME print EXPR` and `on NAME stack N`\n";
      return 2;
    }
    if (!duration.empty()) {
      if (!absl::ParseDuration(duration, &trace.duration) ||
          trace.duration < absl::ZeroDuration()) {
        *env.command.err << "kdbg: error: --duration \"" << duration
                         << "\" is not a duration like 30s, 5m or 1h30m\n";
        return 2;
      }
    }
    if (!lease.empty() &&
        (!absl::ParseDuration(lease, &trace.lease) || trace.lease <= absl::ZeroDuration())) {
      *env.command.err << "kdbg: error: --lease \"" << lease
                       << "\" is not a duration like 30s, 5m or 1h30m\n";
      return 2;
    }
    if (trace.stats && g.format == OutputFormat::kJson) {
      *env.command.err << "kdbg: error: --stats is a view for people; with -o json every hit is "
                          "already a line to aggregate\n";
      return 2;
    }
    trace.stats_terminal = env.stdout_terminal;
    return RunTrace(g, trace, cmd);
  }
  if (*attach_cmd) {
    if (env.interactive && !attach.headless) cmd.dlv_path = FindOnPath("dlv", env.getenv("PATH"));
    return RunAttach(g, attach, cmd);
  }
  if (*funcs_cmd) return RunFuncs(g, funcs, cmd);
  if (*resolve_cmd) return RunResolve(g, resolve, cmd);
  if (*sessions_cmd) {
    if (sessions.output == "json") g.format = OutputFormat::kJson;
    return RunSessions(g, sessions, cmd);
  }
  if (*stop_cmd) return RunStop(g, session_id, cmd);
  if (*version_cmd) return RunVersion(g, cmd);
  return 2;
}

}  // namespace kdbg::cli
