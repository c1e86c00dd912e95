// The kdbg command line: CLI11 subcommands over the functions in commands.h.
//
//   kdbg trace   TARGET --init FILE [-c NAME] [-n NS] [--duration 30s] [--max-hits N] [-o
//   text|json] kdbg attach  TARGET [-c NAME] [-n NS] [--listen 127.0.0.1:PORT] [--headless] kdbg
//   resolve TARGET [-c NAME] [-n NS] [-o text|json] kdbg sessions [-n NS | -A] [-o text|json] kdbg
//   stop    SESSION-ID kdbg version global: --kubeconfig FILE, --context NAME, --controller
//   HOST:PORT, --controller-ca FILE
//
// Installed also as `kubectl-kdbg`, so `kubectl kdbg ...` runs it (help then says "kubectl kdbg").
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
  bool interactive = false;  // stdin and stdout are terminals
};

// Parses argv and runs the command. Usage errors exit 2 with one line on stderr.
int RunApp(const std::vector<std::string>& argv, AppEnv env);

// The default environment: real kubeconfig, port-forward discovery, the process environment.
AppEnv DefaultAppEnv(std::ostream* out, std::ostream* err, int interrupt_fd);

}  // namespace kdbg::cli
