// How the sessions of a killed agent ended, kept for its successor to tell the controller.
//
// When every process of the agent's container is killed at once (OOM group kill, `runc kill
// --all`), the agent's guardian (or, if the guardian died too, the restarted agent) ends each
// session the agent left by the safe sequence (delve_engine.h RecoverOrphans). The controller only
// sees its stream from the agent break. So whoever recovers a session records its EndedEvent
// (reason END_REASON_RECOVERED, with target_alive / target_traced as checked in /proc and a
// message naming who ended it) here, and the restarted agent answers StopSession for that session
// ID with it: the controller then audits RECOVERED and tells the CLI.
//
// On disk: one file per session, `<dir>/<session_id>.ended`, the EndedEvent in protobuf binary
// form, written to `<dir>/.<session_id>.tmp` then renamed (a reader never sees half a record).
// Session IDs are common/session_id.h's 16 lower-case hex digits; anything else is refused (no
// path ever comes from a request). Records older than `max_age` are deleted by Sweep.
//
// Thread-safe (each call works on the file system only).
#pragma once

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "kdbg/v1/types.pb.h"

namespace kdbg::agent {

class RecoveredSessions {
 public:
  // `dir` is created (0700) on the first Record.
  explicit RecoveredSessions(std::string dir) : dir_(std::move(dir)) {}

  absl::Status Record(const std::string& session_id, const kdbg::v1::EndedEvent& ended) const;
  // The recorded end of `session_id`, or nullopt (none, unreadable, or not a session ID).
  std::optional<kdbg::v1::EndedEvent> Find(const std::string& session_id) const;
  // Deletes records last written before `now - max_age`; returns how many.
  int Sweep(absl::Time now, absl::Duration max_age) const;

  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
};

// How long a recovered session's end stays answerable: far longer than a container restart (the
// controller asks within seconds), short enough that the directory stays small.
inline constexpr absl::Duration kRecoveredSessionTtl = absl::Hours(1);

}  // namespace kdbg::agent
