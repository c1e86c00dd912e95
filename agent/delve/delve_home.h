// Delve's private config home: one directory per session, given to the session's Delve as
// XDG_CONFIG_HOME, removed when the session ends.
//
// Why: Delve (1.26.2, 1.27.2, built with Go >= 1.23) writes outside the session otherwise.
//   - cmd/dlv/main.go calls golang.org/x/telemetry's Start{ReportCrashes: true}: unless
//     $XDG_CONFIG_HOME/go/telemetry/mode (else $HOME/.config/go/telemetry/mode) says "off", it
//     opens counter files under .../go/telemetry/local/ (dlv@v1.27.2-go1.26.8-linux-amd64-*.count)
//     and starts a second `dlv "** telemetry **"` process (setsid, in that directory) to watch for
//     crashes. The x/telemetry version Delve pins (v0.0.0-20241106142447-58a1122356f5) reads only
//     the mode file: the GOTELEMETRY environment variable is not consulted (it is set anyway, for
//     Delves whose x/telemetry honours it).
//   - pkg/config LoadConfig writes a default $XDG_CONFIG_HOME/dlv/config.yml when none exists.
// So the home holds:
//   DIR/go/telemetry/mode   "off"
//   DIR/dlv/config.yml      kdbg's (empty, or the debug-info-directories of separate_debug_info.h)
//   DIR/debug/...           only with a debug binary (separate_debug_info.h)
// Where: WORK_DIR/SESSION.home, or EXECUTABLE.dlv for a session reading a debug binary (beside
// the upload, swept with it). A killed agent's homes are swept by RecoverOrphans.
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"

namespace kdbg::delve {

// The suffix of the homes under the engine's work directory (RecoverOrphans sweeps them).
inline constexpr char kDelveHomeSuffix[] = ".home";
// The suffix of the Unix sockets Delve serves on, WORK_DIR/SESSION.sock (`dlv attach ...
// --listen=unix:WORK_DIR/SESSION.sock`); RecoverOrphans sweeps those a killed Delve left.
inline constexpr char kDelveSocketSuffix[] = ".sock";

// The socket session `session_id`'s Delve listens on.
std::string DelveSocketPath(const std::string& work_dir, const std::string& session_id);

// The home of session `session_id`: SeparateDebugInfoDir(executable) when `executable` (a debug
// binary) is given, else WORK_DIR/SESSION.home.
std::string DelveHomeDir(const std::string& work_dir, const std::string& session_id,
                         const std::string& executable);

// Creates the layout above in `dir` (an older one is removed first). `executable` and
// `target_exe` (the target's /proc/PID/exe) as PrepareSeparateDebugInfo takes them; `executable`
// empty: no debug links.
absl::Status PrepareDelveHome(const std::string& dir, const std::string& executable,
                              const std::string& target_exe);

// The environment entries Delve gets: XDG_CONFIG_HOME=DIR, GOTELEMETRY=off.
std::vector<std::string> DelveHomeEnv(const std::string& dir);

// Removes `dir` and what Delve or kdbg wrote in it (links are unlinked, never followed). Best
// effort.
void RemoveDelveHome(const std::string& dir);

}  // namespace kdbg::delve
