#pragma once
#include <string>
#include <vector>
namespace kdbg::agent {
// `kdbg-agent resolve ...`: returns the process exit status.
int RunResolveCommand(const std::vector<std::string>& args);
}  // namespace kdbg::agent
