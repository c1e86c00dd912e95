// Output formats of the kdbg CLI: pure functions over the controller's messages, so every format is
// unit-tested without a controller.
//
// Text (for people; hits close to `dlv trace`'s own output):
//   stdout  > goroutine(19): main.handleSlash(w, r) main.go:10
//           	r.RemoteAddr: "127.0.0.1:53422"
//   stderr  kdbg: pod default/hello-world on node node-a              (NoticeEvent "progress")
//           kdbg: armed 1 tracepoint on PID 4242 (attach 80 ms, arm 3 ms)
//           kdbg:   handleSlash -> main.handleSlash /src/hello/main.go:10
//           kdbg: ended: duration elapsed; 3 hits; target running, detached cleanly
//
// JSON Lines (`-o json`, for machines): one object per line on stdout, each with "type":
//   {"type":"armed","session":"s1","time":"2026-...Z","pid":4242,"attach_ms":80,"arm_ms":3,
//    "tracepoints":[{"name":"handleSlash","location":"main.go:10","function":"main.handleSlash",
//                    "file":"/src/hello/main.go","line":10}]}
//   {"type":"hit","session":"s1","time":"...","tracepoint":"handleSlash","goroutine":19,
//    "function":"main.handleSlash","file":"/src/hello/main.go","line":10,"hit_count":1,
//    "args":{"w":"...","r":"..."},"vars":{"r.RemoteAddr":"\"127.0.0.1:53422\""}}
//   {"type":"ended","session":"s1","time":"...","reason":"duration","hits":3,"message":"...",
//    "target_alive":true,"target_traced":false}
//   {"type":"error","code":"NOT_FOUND","message":"..."}
// Notices (progress, rate limits) never go to stdout: they are text on stderr in both modes.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "kdbg/v1/controller.pb.h"
#include "kdbg/v1/types.pb.h"

namespace kdbg::cli {

enum class OutputFormat { kText, kJson };

// Parses "text" / "json"; InvalidArgument otherwise.
absl::Status ParseOutputFormat(const std::string& text, OutputFormat* format);

// What one event prints. Either string may be empty; each non-empty one ends with '\n'.
struct Rendered {
  std::string out;  // stdout
  std::string err;  // stderr
};

// The prefix of every line printed for an event of a session outside the bundled Delve's supported
// Go range (Event.unsupported_go, --allow-unsupported-go); JSON lines carry "unsupported_go".
inline constexpr char kUnsupportedGoMark[] = "[unsupported Go] ";

// Renders one stream event in the given format.
Rendered RenderEvent(const kdbg::v1::Event& event, OutputFormat format);

// Text pieces, exposed for tests.
std::string HitText(const kdbg::v1::HitEvent& hit);
std::string ArmedText(const kdbg::v1::ArmedEvent& armed);
std::string NoticeText(const kdbg::v1::NoticeEvent& notice);
std::string EndedText(const kdbg::v1::EndedEvent& ended);
// "client_stop", "duration", "max_hits", ... (the enum name without END_REASON_, lower case).
std::string EndReasonName(kdbg::v1::EndReason reason);
// "stopped (Ctrl-C or end of stream)", "duration elapsed", ...: for people.
std::string EndReasonText(kdbg::v1::EndReason reason);
// True for the ends that exit 0: the user's or the limits' own (Ctrl-C, duration, max hits, stop,
// the debugger client leaving an attach session).
bool CleanEnd(const kdbg::v1::EndedEvent& ended);

// JSON Lines objects (no trailing newline).
std::string EventJson(const kdbg::v1::Event& event);  // "" for notices
std::string ErrorJson(const std::string& code, const std::string& message);

// gRPC-style code name of an absl code: "NOT_FOUND", "PERMISSION_DENIED", ...
std::string CodeName(absl::StatusCode code);

// `kdbg resolve`.
std::string ResolveText(const kdbg::v1::ControllerResolveResponse& resolved,
                        const kdbg::v1::PodTarget& target);
std::string ResolveJson(const kdbg::v1::ControllerResolveResponse& resolved,
                        const kdbg::v1::PodTarget& target);
// `kdbg sessions -o json`: one JSON object per session (the table and YAML: cli/sessions_view.h).
std::string SessionsJson(const kdbg::v1::ControllerListSessionsResponse& sessions);
// `kdbg version`.
std::string VersionText(const std::string& cli_version,
                        const kdbg::v1::ControllerVersionResponse* controller);

}  // namespace kdbg::cli
