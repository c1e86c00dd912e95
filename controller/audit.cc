#include "controller/audit.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/status.h"
#include "nlohmann/json.hpp"
#include "proto/words.h"

namespace kdbg::controller {
namespace {

std::string TimeText(absl::Time t) {
  if (t == absl::InfinitePast()) return "";
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", t, absl::UTCTimeZone());
}

}  // namespace

std::string FormatAuditLine(const AuditRecord& r, absl::Time now) {
  nlohmann::ordered_json j;
  j["ts"] = TimeText(now);
  j["kind"] = r.kind;
  j["rpc"] = r.rpc;
  j["decision"] = r.decision;
  j["reason"] = r.reason;
  j["user"] = r.user;
  j["groups"] = r.groups;
  j["namespace"] = r.ns;
  j["pod"] = r.pod;
  j["container"] = r.container;
  j["node"] = r.node;
  j["agent"] = r.agent;
  j["session"] = r.session_id;
  j["pid"] = r.pid;
  j["mode"] = r.mode == v1::SESSION_MODE_UNSPECIFIED ? std::string() : v1::Word(r.mode);
  j["script"] = r.script;
  j["start"] = TimeText(r.start);
  j["end"] = TimeText(r.end);
  j["hits"] = r.hits;
  j["end_reason"] = r.end_reason;
  // Replace invalid UTF-8 (a script is user text) instead of throwing.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

absl::StatusOr<std::unique_ptr<FileAuditSink>> FileAuditSink::Open(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) {
    return ErrnoToStatus(errno, absl::StrCat("cannot open the audit log ", path,
                                             " (check --audit-log and its directory)"));
  }
  return std::unique_ptr<FileAuditSink>(new FileAuditSink(UniqueFd(fd)));
}

void FileAuditSink::Write(const std::string& line) {
  std::string data = line + "\n";
  ssize_t n = ::write(fd_.get(), data.data(), data.size());
  if (n != static_cast<ssize_t>(data.size())) {
    log::Error("audit log write failed", {{"errno", errno}, {"line", line}});
  }
}

void Auditor::Decision(const AuditRecord& record) {
  sink_->Write(FormatAuditLine(record, clock_->Now()));
}

void Auditor::SessionStarted(const AuditRecord& r) {
  PostEvent(r, "DebugSessionStarted",
            absl::StrCat("kdbg ", v1::Word(r.mode), " session ", r.session_id, " started by ",
                         r.user, " on container ", r.container, " (node ", r.node, ")"));
}

void Auditor::SessionEnded(const AuditRecord& r) {
  AuditRecord line = r;
  line.kind = "session-end";
  sink_->Write(FormatAuditLine(line, clock_->Now()));
  PostEvent(r, "DebugSessionEnded",
            absl::StrCat("kdbg ", v1::Word(r.mode), " session ", r.session_id, " of ", r.user,
                         " ended: ", r.end_reason,
                         r.reason.empty() ? "" : absl::StrCat(" (", r.reason, ")"), ", ", r.hits,
                         " hits"));
}

void Auditor::PostEvent(const AuditRecord& r, const std::string& reason,
                        const std::string& message) {
  kube::EventSpec event;
  event.namespace_ = r.ns;
  event.involved_name = r.pod;
  event.involved_uid = r.pod_uid;
  event.reason = reason;
  event.message = message;
  kube::Client* kube = kube_;
  work_->Post([kube, event] {
    absl::Status s = kube->CreateEvent(event);
    if (!s.ok()) {
      log::Warning("cannot post the pod event",
                   {{"pod", event.namespace_ + "/" + event.involved_name},
                    {"reason", event.reason},
                    {"error", std::string(s.message())}});
    }
  });
}

}  // namespace kdbg::controller
