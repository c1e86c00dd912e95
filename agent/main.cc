// kdbg-agent: `serve` runs the node agent; `resolve` runs the resolver once (see --help).
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "agent/delve/delve_versions.h"
#include "agent/resolver/resolve_command.h"
#include "agent/service/agent_config.h"
#include "agent/service/serve_command.h"

int main(int argc, char** argv) {
  // Debian's Abseil is built without NDEBUG, so every Mutex lock runs its deadlock detector
  // (a lock graph and stack traces: ~3% of each process's CPU per traced event, perf). Tests keep
  // it.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  std::vector<std::string> args(argv + 1, argv + argc);
  const char* usage =
      "usage: kdbg-agent <command> [flags]\n"
      "  serve     run the node agent's gRPC service (kdbg-agent serve --help)\n"
      "  resolve   resolve a container ID to the Go process to debug, once (kdbg-agent resolve "
      "--help)\n"
      "  version   print the version\n";
  if (args.empty() || args[0] == "-h" || args[0] == "--help") {
    std::fputs(usage, args.empty() ? stderr : stdout);
    return args.empty() ? 2 : 0;
  }
  std::string cmd = args[0];
  args.erase(args.begin());
  if (cmd == "serve") return kdbg::agent::RunServeCommand(args);
  if (cmd == "resolve") {
    // The preflight shows the Go-version gate of the Delves `serve` would use (same default).
    return kdbg::agent::RunResolveCommand(
        args, kdbg::agent::AgentConfig{}.dlv,
        [](const std::string& dlv, std::vector<std::string>* problems) {
          return kdbg::delve::NewGoVersionCheck(kdbg::delve::ProbeDelves(dlv, problems));
        });
  }
  if (cmd == "guard") return kdbg::agent::RunGuardCommand(args);
  if (cmd == "version") {
    std::printf("kdbg-agent %s\n", KDBG_VERSION);
    return 0;
  }
  std::fprintf(stderr, "kdbg-agent: unknown command %s\n%s", cmd.c_str(), usage);
  return 2;
}
