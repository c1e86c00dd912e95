#pragma once
#include <functional>
#include <string>
#include <vector>

#include "agent/resolver/new_resolver.h"

namespace kdbg::agent {

// The agent's preflight checks the target's Go version against the bundled Delves as `serve`
// does. The resolver may not depend on agent/delve, so main wires it in: from the `--dlv` list
// (comma-separated paths) to the check; the Delves that cannot be used are appended to
// `problems`.
using GoVersionCheckFactory =
    std::function<std::function<GoVersionCheck(const std::string& go_version)>(
        const std::string& dlv, std::vector<std::string>* problems)>;

// `kdbg-agent resolve ...`: returns the process exit status. `default_dlv` is the agent's own
// default `--dlv`; without `go_check` (or with `--dlv ''`) no Go-version gate is shown.
int RunResolveCommand(const std::vector<std::string>& args, const std::string& default_dlv = "",
                      const GoVersionCheckFactory& go_check = {});

}  // namespace kdbg::agent
