// `kdbg-agent resolve`: runs the resolver once and prints the target with its evidence.
#include "agent/resolver/resolve_command.h"

#include <algorithm>
#include <cstdio>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "agent/resolver/new_resolver.h"
#include "agent/resolver/target_json.h"

namespace kdbg::agent {

int RunResolveCommand(const std::vector<std::string>& args, const std::string& default_dlv,
                      const GoVersionCheckFactory& go_check) {
  CLI::App app{"Resolve a container ID (or host PID) to the Go process to debug, and say why.",
               "kdbg-agent resolve"};
  std::string container_id, container_name, output = "text";
  int pid = 0;
  ResolverOptions opts;
  app.add_option(
      "--container-id", container_id,
      "as in the pod's status: containerd://<64 hex>, cri-o://..., docker://..., or bare hex");
  app.add_option("--container-name", container_name, "the container's name (informational)");
  app.add_option("--pid", pid, "a host PID instead of a container ID");
  app.add_option("--proc-root", opts.proc_root, "the /proc to read (a recorded tree for tests)")
      ->capture_default_str();
  app.add_option("--host-root", opts.host_root, "the node's root, for runtime state files")
      ->capture_default_str();
  app.add_option("--containerd-state", opts.containerd_state_dirs,
                 "extra containerd state directories (containerd's `state` setting)");
  app.add_option("--node-name", opts.node_name, "this node's name (reported)");
  std::string dlv = default_dlv;
  if (go_check) {
    app.add_option("--dlv", dlv,
                   "the bundled Delve builds, comma-separated, as `serve --dlv`: the target's Go "
                   "version is checked against their supported range")
        ->capture_default_str();
  }
  app.add_option("-o,--output", output, "text or json")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  std::vector<std::string> rev(args.rbegin(), args.rend());
  try {
    app.parse(rev);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (container_id.empty() == (pid <= 0)) {
    std::fputs("kdbg-agent resolve: give exactly one of --container-id ID or --pid N\n", stderr);
    return 2;
  }
  kdbg::v1::TargetRef ref;
  ref.set_container_id(container_id);
  ref.set_container_name(container_name);
  ref.set_host_pid(pid);
  if (go_check && !dlv.empty()) {
    std::vector<std::string> problems;
    auto check = go_check(dlv, &problems);
    for (const std::string& p : problems) {
      std::fprintf(stderr, "kdbg-agent resolve: bundled Delve unusable: %s\n", p.c_str());
    }
    // Off the agent's image (no Delve at the default paths) the rest of the preflight still
    // answers; it says the Go version was not checked.
    size_t listed = std::count(dlv.begin(), dlv.end(), ',') + 1;
    if (problems.size() < listed) {
      opts.check_go_version = std::move(check);
    } else {
      std::fprintf(stderr,
                   "kdbg-agent resolve: no usable Delve in --dlv %s: the target's Go version is "
                   "not checked against a supported range\n",
                   dlv.c_str());
    }
  }
  std::unique_ptr<Resolver> resolver = NewResolver(std::move(opts));
  absl::StatusOr<kdbg::v1::ResolvedTarget> target = resolver->Resolve(ref);
  if (!target.ok()) {
    if (output == "json") {
      std::printf("%s\n", ResolveErrorToJson(target.status()).dump().c_str());
    }
    std::fprintf(stderr, "kdbg-agent resolve: %s\n",
                 std::string(target.status().message()).c_str());
    return 1;
  }
  if (output == "json") {
    std::printf("%s\n", ResolvedTargetToJson(*target).dump().c_str());
  } else {
    std::fputs(ResolvedTargetToText(*target).c_str(), stdout);
  }
  if (!target->debuggable()) {
    std::fprintf(stderr, "kdbg-agent resolve: not debuggable: %s\n", target->problem().c_str());
    return 1;
  }
  return 0;
}

}  // namespace kdbg::agent
