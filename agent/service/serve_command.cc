// Placeholder until the agent service lands (issue 5).
#include "agent/service/serve_command.h"
#include <cstdio>
namespace kdbg::agent {
int RunServeCommand(const std::vector<std::string>&) {
  std::fputs("kdbg-agent serve: not implemented yet\n", stderr);
  return 1;
}
}  // namespace kdbg::agent
