// `kdbg sessions` printed the way `kubectl get` prints resources:
//
//   $ kdbg sessions
//   SESSION    MODE    NAMESPACE   POD           STATE     HITS   AGE
//   3f2a9c1e   trace   default     hello-world   tracing   7      90s
//   $ kdbg sessions -o wide       adds CONTAINER, NODE, PID, USER and LEASE (time left)
//   $ kdbg sessions --no-headers  the rows only, for awk and xargs
//   $ kdbg sessions -o json       one JSON object per session per line (as every -o json)
//   $ kdbg sessions -o yaml       a YAML list of the same objects
//
// No session: nothing on stdout (an empty YAML list, `[]`, for -o yaml), and on stderr
// "No debug sessions found in default namespace." (kubectl's "No resources found ..." words).
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "cli/commands.h"
#include "kdbg/v1/controller.pb.h"

namespace kdbg::cli {

enum class SessionsFormat { kTable, kWide, kJson, kYaml };

// "" / "text" -> kTable, "wide", "json", "yaml"; InvalidArgument otherwise.
absl::StatusOr<SessionsFormat> ParseSessionsFormat(const std::string& text);

// The table (kTable or kWide), with or without its header line. "" when there is no session.
std::string SessionsTable(const kdbg::v1::ControllerListSessionsResponse& sessions,
                          int64_t now_unix_nanos, bool wide, bool headers);

// -o yaml: the objects of SessionsJson as a YAML sequence ("[]\n" when empty).
std::string SessionsYaml(const kdbg::v1::ControllerListSessionsResponse& sessions);

// How long ago `start` was, as kubectl's AGE column: "90s", "5m3s", "2h10m"; "-" when unknown.
std::string AgeText(int64_t start_unix_nanos, int64_t now_unix_nanos);

// The stderr line when the list is empty: "No debug sessions found in default namespace.\n"
// (namespace "" means every namespace).
std::string NoSessionsMessage(const std::string& ns);

}  // namespace kdbg::cli

namespace kdbg::cli::internal {
class Console;
// Prints `sessions` as `o` asks (o.output already checked by ParseSessionsFormat); `ns` is the
// namespace listed ("" for -A), for the empty-list line.
void PrintSessions(const kdbg::v1::ControllerListSessionsResponse& sessions,
                   const SessionsCommandOptions& o, const std::string& ns, int64_t now_unix_nanos,
                   Console& console);
}  // namespace kdbg::cli::internal
