// Placeholder until the resolver lands (issue 3).
#include "agent/resolver/resolve_command.h"
#include <cstdio>
namespace kdbg::agent {
int RunResolveCommand(const std::vector<std::string>&) {
  std::fputs("kdbg-agent resolve: not implemented yet\n", stderr);
  return 1;
}
}  // namespace kdbg::agent
