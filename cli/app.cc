#include "cli/app.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <iostream>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"

namespace kdbg::cli {

namespace {
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
      " trace pod/hello-world --init trace.txt --duration 30s\n"
      "  ",
      name,
      " attach hello-world -c app\n"
      "  ",
      name,
      " sessions -A\n"
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
        ->check(CLI::IsMember({"text", "json"}));
  };

  TraceCommandOptions trace;
  std::string duration;
  std::string lease;
  auto* trace_cmd =
      app.add_subcommand("trace", "trace functions of a running pod with a trace script");
  add_target(trace_cmd, &trace.target);
  trace_cmd->add_option("--init", trace.init_file, "trace script file")->required();
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
      ->add_option("--engine", trace.engine,
                   "auto (default): eBPF uprobes when the whole script qualifies (function "
                   "entries, printed parameters and fields), else Delve; ebpf; delve")
      ->check(CLI::IsMember({"auto", "ebpf", "delve"}));
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
  add_output(trace_cmd);
  trace_cmd->footer(absl::StrCat(
      "Examples:\n"
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
  attach_cmd->footer(absl::StrCat(
      "Examples:\n"
      "  ",
      name,
      " attach pod/hello-world\n"
      "  ",
      name,
      " attach hello-world --listen 127.0.0.1:2345 --headless   # then: dlv connect "
      "127.0.0.1:2345\n"
      "Closing kdbg (Ctrl-C) ends the session: the agent detaches and the target keeps running."));

  TargetOptions resolve;
  auto* resolve_cmd =
      app.add_subcommand("resolve", "show what would be debugged and whether it can be");
  add_target(resolve_cmd, &resolve);
  add_output(resolve_cmd);
  resolve_cmd->footer(absl::StrCat("Examples:\n  ", name, " resolve pod/hello-world\n  ", name,
                                   " resolve web-0 -n shop -c app -o json"));

  bool all_namespaces = false;
  auto* sessions_cmd = app.add_subcommand("sessions", "list debug sessions");
  auto* ns_opt =
      sessions_cmd->add_option("-n,--namespace", g.namespace_, "namespace (else the context's)");
  sessions_cmd->add_flag("-A,--all-namespaces", all_namespaces, "every namespace")
      ->excludes(ns_opt);
  add_output(sessions_cmd);
  sessions_cmd->footer(
      absl::StrCat("Examples:\n  ", name, " sessions\n  ", name, " sessions -A -o json"));

  std::string session_id;
  auto* stop_cmd = app.add_subcommand("stop", "end a debug session safely");
  stop_cmd->add_option("SESSION-ID", session_id, "as `sessions` lists it")->required();
  stop_cmd->footer(absl::StrCat("Examples:\n  ", name, " stop 3f2a9c1e"));

  auto* version_cmd =
      app.add_subcommand("version", "versions of the CLI, controller, agents and their Delve");
  version_cmd->footer(absl::StrCat("Examples:\n  ", name, " version"));

  for (auto* cmd : {trace_cmd, attach_cmd, resolve_cmd, sessions_cmd, stop_cmd, version_cmd}) {
    cmd->fallthrough();  // global flags may follow the subcommand
  }

  std::vector<std::string> args(argv.size() > 1 ? argv.begin() + 1 : argv.end(), argv.end());
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

  CommandEnv& cmd = env.command;
  if (!cmd.open_cluster) {
    ClusterOptions base;
    base.kubeconfig_env = env.getenv("KUBECONFIG");
    base.home = env.getenv("HOME");
    cmd.open_cluster = [base](const GlobalOptions& g) {
      ClusterOptions o = base;
      o.kubeconfig = g.kubeconfig;
      o.context = g.context;
      return OpenCluster(o);
    };
  }
  if (!cmd.find_controller) {
    std::string kubectl = env.getenv("KDBG_KUBECTL");
    cmd.find_controller = [kubectl](const GlobalOptions& g, const std::vector<std::string>& args) {
      EndpointOptions o;
      o.address = g.controller;
      if (!kubectl.empty()) o.kubectl = kubectl;
      o.kubectl_args = args;
      return FindController(o);
    };
  }

  if (*trace_cmd) {
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
    return RunTrace(g, trace, cmd);
  }
  if (*attach_cmd) {
    if (env.interactive && !attach.headless) cmd.dlv_path = FindOnPath("dlv", env.getenv("PATH"));
    return RunAttach(g, attach, cmd);
  }
  if (*resolve_cmd) return RunResolve(g, resolve, cmd);
  if (*sessions_cmd) return RunSessions(g, all_namespaces, cmd);
  if (*stop_cmd) return RunStop(g, session_id, cmd);
  if (*version_cmd) return RunVersion(g, cmd);
  return 2;
}

}  // namespace kdbg::cli
