#pragma once
#include <string>
#include <vector>
namespace kdbg::agent {
// `kdbg-agent serve ...`: runs until SIGTERM/SIGINT; returns the process exit status.
int RunServeCommand(const std::vector<std::string>& args);
}  // namespace kdbg::agent
