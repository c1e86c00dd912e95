// Audit trail: one JSON line per decision and per session end, appended to a file, plus a
// Kubernetes Event on the pod when a session starts and ends (so `kubectl describe pod` shows it).
//
// A line (keys always present, empty/0 when not known at that point):
//   {"ts":"2026-11-24T10:00:00.123Z","kind":"decision","rpc":"trace","decision":"allowed",
//    "reason":"","user":"alice","groups":["dev"],"namespace":"default","pod":"hello-world",
//    "container":"app","node":"node-a","agent":"kdbg-agent-x","session":"3f2a...","pid":0,
//    "mode":"trace","script":"trace handleSlash main.go:10\n...","start":"...","end":"",
//    "hits":0,"end_reason":""}
// kind: "decision" (allowed or denied, for every RPC that names a target) or "session-end".
//
// Every text field may be hostile: a refused request is audited with the names it carried, before
// (and because) they failed validation, and the user, reason and script come from elsewhere. Each
// is written through AuditText: control characters escaped, lengths bounded, so a line is one line
// of bounded size whatever the request held (a pod named "x\n{...}" or a megabyte of name).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/fd.h"
#include "common/work_queue.h"
#include "kdbg/v1/types.pb.h"
#include "kube/client.h"

namespace kdbg::controller {

struct AuditRecord {
  std::string kind = "decision";  // "decision" | "session-end"
  std::string rpc;                // trace, attach, tunnel, resolve, list, stop
  std::string decision;           // allowed, denied, error (decisions only)
  std::string reason;             // why denied / the error / the end summary
  std::string user;
  std::vector<std::string> groups;
  std::string ns;
  std::string pod;
  std::string pod_uid;
  std::string container;
  std::string node;
  std::string agent;
  std::string session_id;
  int64_t pid = 0;
  v1::SessionMode mode = v1::SESSION_MODE_UNSPECIFIED;  // written as its word, "" if unspecified
  std::string script;                                   // the trace script's text
  absl::Time start = absl::InfinitePast();
  absl::Time end = absl::InfinitePast();
  int64_t hits = 0;
  std::string end_reason;  // END_REASON_... name, or the relay's status
};

// Bounds of AuditText per field.
inline constexpr size_t kAuditNameBytes = 256;  // user, group, namespace, pod, ...; DNS-1123 is 253
inline constexpr size_t kAuditReasonBytes = 4096;
inline constexpr size_t kAuditScriptBytes = 64 * 1024;  // script::kMaxScriptBytes
inline constexpr size_t kAuditMaxGroups = 64;

// `text` made safe to store: each byte below 0x20 and DEL as `\xNN` (with `keep_newlines`, '\n'
// and '\t' stay: a script's lines), a backslash as `\\`, C1 controls (U+0080..U+009F) and the
// bidirectional overrides and isolates (U+202A..U+202E, U+2066..U+2069) as `\uNNNN`; cut after
// `max_bytes` bytes of input with "...(N more bytes)". Other bytes as they are (invalid UTF-8 is
// replaced by U+FFFD when the line is written).
std::string AuditText(std::string_view text, size_t max_bytes, bool keep_newlines = false);

// One JSON object, no trailing newline, every text through AuditText. `now` is the record's "ts".
std::string FormatAuditLine(const AuditRecord& record, absl::Time now);

// Where audit lines go. Thread-safe.
class AuditSink {
 public:
  virtual ~AuditSink() = default;
  virtual void Write(const std::string& line) = 0;
};

// Appends lines to a file (O_APPEND, one write(2) per line, so concurrent writers do not mix).
class FileAuditSink final : public AuditSink {
 public:
  // NotFound/PermissionDenied when the file cannot be opened for appending.
  static absl::StatusOr<std::unique_ptr<FileAuditSink>> Open(const std::string& path);
  void Write(const std::string& line) override;

 private:
  explicit FileAuditSink(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;
};

// Writes audit lines and posts pod Events. Event creation (an API call) runs on `work`; a failure
// to post an Event is logged, never fails the session. Thread-safe; never blocks on the network.
class Auditor {
 public:
  Auditor(AuditSink* sink, kube::Client* kube, WorkQueue* work, Clock* clock)
      : sink_(sink), kube_(kube), work_(work), clock_(clock) {}

  void Decision(const AuditRecord& record);
  // Writes no line (the decision line covers it); posts the DebugSessionStarted Event.
  void SessionStarted(const AuditRecord& record);
  // Writes the session-end line and posts the DebugSessionEnded Event.
  void SessionEnded(const AuditRecord& record);

 private:
  void PostEvent(const AuditRecord& record, const std::string& reason, const std::string& message);

  AuditSink* sink_;
  kube::Client* kube_;
  WorkQueue* work_;
  Clock* clock_;
};

}  // namespace kdbg::controller
