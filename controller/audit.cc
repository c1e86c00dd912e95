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

std::string Name(std::string_view text) { return AuditText(text, kAuditNameBytes); }

// The 3-byte UTF-8 forms of U+202A..U+202E and U+2066..U+2069 (E2 80 AA..AE, E2 81 A6..A9).
bool IsBidiControl(std::string_view s, size_t i) {
  if (i + 2 >= s.size() || static_cast<unsigned char>(s[i]) != 0xE2) return false;
  auto b1 = static_cast<unsigned char>(s[i + 1]);
  auto b2 = static_cast<unsigned char>(s[i + 2]);
  return (b1 == 0x80 && b2 >= 0xAA && b2 <= 0xAE) || (b1 == 0x81 && b2 >= 0xA6 && b2 <= 0xA9);
}

}  // namespace

std::string AuditText(std::string_view text, size_t max_bytes, bool keep_newlines) {
  std::string out;
  size_t i = 0;
  while (i < text.size() && i < max_bytes) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c == '\\') {
      out += "\\\\";
    } else if ((c < 0x20 && !(keep_newlines && (c == '\n' || c == '\t'))) || c == 0x7f) {
      absl::StrAppend(&out, "\\x", absl::Hex(c, absl::kZeroPad2));
    } else if (c == 0xC2 && i + 1 < text.size() &&
               static_cast<unsigned char>(text[i + 1]) >= 0x80 &&
               static_cast<unsigned char>(text[i + 1]) <= 0x9F) {
      absl::StrAppend(&out, "\\u00", absl::Hex(static_cast<unsigned char>(text[i + 1])));
      ++i;
    } else if (IsBidiControl(text, i)) {
      unsigned code = ((static_cast<unsigned char>(text[i + 1]) & 0x3Fu) << 6) |
                      (static_cast<unsigned char>(text[i + 2]) & 0x3Fu) | 0x2000u;
      absl::StrAppend(&out, "\\u", absl::Hex(code, absl::kZeroPad4));
      i += 2;
    } else {
      out += static_cast<char>(c);
    }
    ++i;
  }
  if (i < text.size()) absl::StrAppend(&out, "...(", text.size() - i, " more bytes)");
  return out;
}

std::string FormatAuditLine(const AuditRecord& r, absl::Time now) {
  nlohmann::ordered_json j;
  j["ts"] = TimeText(now);
  j["kind"] = Name(r.kind);
  j["rpc"] = Name(r.rpc);
  j["decision"] = Name(r.decision);
  j["reason"] = AuditText(r.reason, kAuditReasonBytes);
  j["user"] = Name(r.user);
  nlohmann::json groups = nlohmann::json::array();
  for (size_t g = 0; g < r.groups.size() && g < kAuditMaxGroups; ++g) {
    groups.push_back(Name(r.groups[g]));
  }
  if (r.groups.size() > kAuditMaxGroups) {
    groups.push_back(absl::StrCat("...(", r.groups.size() - kAuditMaxGroups, " more groups)"));
  }
  j["groups"] = groups;
  j["namespace"] = Name(r.ns);
  j["pod"] = Name(r.pod);
  j["container"] = Name(r.container);
  j["node"] = Name(r.node);
  j["agent"] = Name(r.agent);
  j["session"] = Name(r.session_id);
  j["pid"] = r.pid;
  j["mode"] = r.mode == v1::SESSION_MODE_UNSPECIFIED ? std::string() : v1::Word(r.mode);
  j["script"] = AuditText(r.script, kAuditScriptBytes, /*keep_newlines=*/true);
  j["start"] = TimeText(r.start);
  j["end"] = TimeText(r.end);
  j["hits"] = r.hits;
  j["end_reason"] = Name(r.end_reason);
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
            absl::StrCat("kdbg ", v1::Word(r.mode), " session ", Name(r.session_id), " started by ",
                         Name(r.user), " on container ", Name(r.container), " (node ", Name(r.node),
                         ")"));
}

void Auditor::SessionEnded(const AuditRecord& r) {
  AuditRecord line = r;
  line.kind = "session-end";
  sink_->Write(FormatAuditLine(line, clock_->Now()));
  PostEvent(
      r, "DebugSessionEnded",
      absl::StrCat(
          "kdbg ", v1::Word(r.mode), " session ", Name(r.session_id), " of ", Name(r.user),
          " ended: ", Name(r.end_reason),
          r.reason.empty() ? "" : absl::StrCat(" (", AuditText(r.reason, kAuditReasonBytes), ")"),
          ", ", r.hits, " hits"));
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
