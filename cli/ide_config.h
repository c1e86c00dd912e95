// IDE attach configurations for `kdbg attach`: a VS Code launch configuration and a GoLand "Go
// Remote" run configuration for the local end of the tunnel, with the source mapping VS Code needs.
//
// The mapping: Delve reports and expects the paths recorded in the binary's DWARF at build time
// (the main package's files, e.g. /build/src/cmd/server/main.go, or example.com/shop/cmd/server/
// main.go with -trimpath); the user's checkout is elsewhere. The agent reads main.main's file from
// the binary (ListFunctions with_source, through the one Go-binary inspector); the CLI finds the
// longest tail of that path that exists under --source DIR (default: the current directory when
// it holds a go.mod) and maps the two roots:
//   remote /build/src/cmd/server/main.go, local /home/me/shop with cmd/server/main.go
//   -> "substitutePath": [{"from": "/home/me/shop", "to": "/build/src"}]
//
// What VS Code reads (.vscode/launch.json, JSON with comments):
//   {"version": "0.2.0", "configurations": [
//     {"name": "kdbg: default/hello-world", "type": "go", "request": "attach", "mode": "remote",
//      "host": "127.0.0.1", "port": 40000,
//      "substitutePath": [{"from": "/home/me/shop", "to": "/build/src"}]}]}
// GoLand (.idea/runConfigurations/kdbg_default_hello_world.xml):
//   <component name="ProjectRunConfigurationManager">
//     <configuration default="false" name="kdbg: default/hello-world"
//                    type="GoRemoteDebugConfigurationType" factoryName="Go Remote">
//       <option name="host" value="127.0.0.1" /><option name="port" value="40000" />
//       <disconnect value="LEAVE" /><method v="2" /></configuration></component>
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "absl/status/statusor.h"

namespace kdbg::cli {

struct SourceMapping {
  std::string local;   // the checkout's directory that corresponds to...
  std::string remote;  // ...this build directory (as the binary records it)
};

// The mapping for a binary whose main package file is `remote_main_file`, to the checkout at
// `local_dir` (absolute). `exists(path)` says whether a local file exists (injectable). nullopt
// when no tail of the remote path exists under local_dir, or when the two roots are the same.
std::optional<SourceMapping> FindSourceMapping(
    const std::string& remote_main_file, const std::string& local_dir,
    const std::function<bool(const std::string&)>& exists);

// The VS Code configuration object (pretty JSON, 2-space indent, no trailing newline).
std::string VsCodeConfiguration(const std::string& name, const std::string& host, int port,
                                const std::optional<SourceMapping>& mapping);

// `existing` (the text of .vscode/launch.json, "" when absent; comments allowed) with the
// configuration named `name` replaced or added; every other configuration and key kept.
// InvalidArgument when `existing` is not a JSON object (nothing is written then).
absl::StatusOr<std::string> MergeLaunchJson(const std::string& existing, const std::string& name,
                                            const std::string& configuration_json);

// The GoLand run configuration file's text and its file name ("kdbg_default_hello_world.xml").
std::string GoLandRunConfiguration(const std::string& name, const std::string& host, int port);
std::string GoLandFileName(const std::string& pod_ref);

// Writes `dir`/.vscode/launch.json (merged) and/or `dir`/.idea/runConfigurations/FILE; returns
// one line per file written for the user. A launch.json that had comments is kept beside as
// launch.json.kdbg-backup (JSON cannot carry them over).
struct IdeFiles {
  bool vscode = false;
  bool goland = false;
  std::string dir;  // where .vscode / .idea go: --source DIR, else the current directory
};
absl::StatusOr<std::string> WriteIdeFiles(const IdeFiles& files, const std::string& pod_ref,
                                          const std::string& host, int port,
                                          const std::optional<SourceMapping>& mapping);

}  // namespace kdbg::cli

namespace kdbg::cli {
struct AttachCommandOptions;
namespace internal {
struct Connection;
class Console;
// The checkout `kdbg attach` maps to: --source DIR (made absolute), else the current directory
// when it holds a go.mod, else "" (no mapping; a note says why).
std::string AttachSourceDir(const AttachCommandOptions& o, Console& console);
// Asks the agent (ListFunctions with_source) where main.main's file was at build time and maps it
// to `local_dir`. Never fails the attach: a problem is a note on stderr and nullopt.
std::optional<SourceMapping> AttachSourceMapping(const std::string& local_dir,
                                                 const Connection& conn, Console& console);
// Before any session: InvalidArgument when --vscode would have to overwrite a launch.json it
// cannot read (so nothing is started for a configuration that cannot be written).
absl::Status CheckIdeFiles(const IdeFiles& files);
}  // namespace internal
}  // namespace kdbg::cli
