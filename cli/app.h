// The kdbg command line: CLI11 subcommands over the functions in commands.h (docs/cli.md):
//
//   kdbg trace      TARGET --init FILE | REGEXP [--print EXPR]... [--stack N] [--stats] [...]
//   kdbg attach     TARGET [--listen HOST:PORT] [--headless] [--vscode] [--goland] [--source D]
//   kdbg funcs      TARGET [REGEXP] [--limit N] [--offset N] [--runtime]
//   kdbg resolve    TARGET
//   kdbg sessions   [-n NS | -A] [-o wide|json|yaml] [--no-headers]
//   kdbg stop       SESSION-ID
//   kdbg version
//   kdbg completion bash|zsh|fish      (and the hidden `kdbg __complete WORD...`)
//   global: --kubeconfig FILE, --context NAME, --controller HOST:PORT, --controller-ca FILE
//
// Installed also as `kubectl-kdbg`, so `kubectl kdbg ...` runs it (help then says "kubectl kdbg");
// run as `kubectl_complete-kdbg` it answers kubectl's plugin completion (cli/completion.h).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "cli/commands.h"

namespace kdbg::cli {

struct AppEnv {
  CommandEnv command;
  // getenv, injectable: KUBECONFIG, HOME, KDBG_CONTROLLER, KDBG_CONTROLLER_CA, KDBG_KUBECTL, PATH.
  std::function<std::string(const std::string&)> getenv;
  bool interactive = false;      // stdin and stdout are terminals
  bool stdout_terminal = false;  // stdout is a terminal (trace --stats redraws in place)
};

// Parses argv and runs the command. Usage errors exit 2 with one line on stderr.
int RunApp(const std::vector<std::string>& argv, AppEnv env);

// The default environment: real kubeconfig, port-forward discovery, the process environment.
AppEnv DefaultAppEnv(std::ostream* out, std::ostream* err, int interrupt_fd);

}  // namespace kdbg::cli
