// Checks that a kdbg deployment (the plain manifests, or the chart rendered with its default
// values) and the binaries' built-in defaults (common/defaults.h, through each binary's own flag
// parser) agree: every way one part finds or limits another. A mismatch is one line saying where it
// is and what each side says, e.g.
//   Service kdbg-system/kdbg-controller: port 443, but the CLI port-forwards to port 8443
#pragma once

#include <string>
#include <vector>

namespace kdbg::deploycheck {

// `yaml_texts`: the contents of YAML files (multi-document). Returns the problems, empty when all
// agree. Objects that are missing are problems too (the set must be a whole kdbg install); the
// cert-manager Certificate is checked only when present.
std::vector<std::string> CheckDeployDefaults(const std::vector<std::string>& yaml_texts);

}  // namespace kdbg::deploycheck
