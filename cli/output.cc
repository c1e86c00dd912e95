#include "cli/output.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "proto/words.h"

namespace kdbg::cli {
namespace {

using Json = nlohmann::ordered_json;

std::string Basename(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// RFC 3339 in UTC with the nanoseconds Go would print ("2026-12-02T03:40:05.123456789Z", trailing
// zeros dropped), as absl::FormatTime("%Y-%m-%d%ET%H:%M:%E*SZ") prints it. Hits arrive thousands a
// second: the date and time of day are formatted once per second (per thread), the fraction here.
std::string TimeString(int64_t unix_nanos) {
  if (unix_nanos == 0) return "";
  int64_t secs = unix_nanos / 1000000000;
  int64_t frac = unix_nanos % 1000000000;
  if (frac < 0) {
    frac += 1000000000;
    --secs;
  }
  thread_local int64_t cached_secs = INT64_MIN;
  thread_local std::string cached;  // "YYYY-MM-DDTHH:MM:SS"
  if (secs != cached_secs) {
    cached =
        absl::FormatTime("%Y-%m-%d%ET%H:%M:%S", absl::FromUnixSeconds(secs), absl::UTCTimeZone());
    cached_secs = secs;
  }
  std::string out = cached;
  if (frac != 0) {
    char digits[11];
    std::snprintf(digits, sizeof(digits), ".%09lld", static_cast<long long>(frac));
    size_t n = 10;
    while (digits[n - 1] == '0') --n;
    out.append(digits, n);
  }
  out.push_back('Z');
  return out;
}

// True when `s` is well-formed UTF-8 (no overlong forms, surrogates or code points past U+10FFFF).
bool ValidUtf8(absl::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t n;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
      n = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
      n = 2;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      n = 3;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;
    } else {
      return false;
    }
    if (i + n >= s.size()) return false;  // truncated sequence
    for (size_t k = 1; k <= n; ++k) {
      unsigned char d = static_cast<unsigned char>(s[i + k]);
      unsigned char l = k == 1 ? lo : 0x80, h = k == 1 ? hi : 0xBF;
      if (d < l || d > h) return false;
    }
    i += n + 1;
  }
  return true;
}

Json Head(const char* type, const kdbg::v1::Event& event) {
  Json j;
  j["type"] = type;
  if (!event.session_id().empty()) j["session"] = event.session_id();
  if (!event.pod().empty()) j["pod"] = event.pod();
  if (event.time_unix_nanos() != 0) j["time"] = TimeString(event.time_unix_nanos());
  if (!event.unsupported_go().empty()) j["unsupported_go"] = event.unsupported_go();
  return j;
}

Json Vars(const google::protobuf::RepeatedPtrField<kdbg::v1::Variable>& vars) {
  Json j = Json::object();
  for (const auto& v : vars) j[v.name()] = v.value();
  return j;
}

// nlohmann::json throws on invalid UTF-8; values come from the target's memory, so replace.
std::string Dump(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

// Whether `s` is printable ASCII and holds no `"` or `\\`: JSON takes it as it is. Most names and
// values are; eight bytes at a time (a byte below 0x20, at or above 0x80, or equal to one of the
// two: the classic has-less-than and has-zero word tests, which never miss such a byte).
bool PlainJson(absl::string_view s) {
  constexpr uint64_t kOnes = 0x0101010101010101;
  constexpr uint64_t kHigh = 0x8080808080808080;
  size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    uint64_t w;
    std::memcpy(&w, s.data() + i, sizeof(w));
    const uint64_t quote = w ^ (kOnes * '"');
    const uint64_t backslash = w ^ (kOnes * '\\');
    if (((w | ((w - kOnes * 0x20) & ~w) | ((quote - kOnes) & ~quote) |
          ((backslash - kOnes) & ~backslash)) &
         kHigh) != 0) {
      return false;
    }
  }
  for (; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c >= 0x80 || c == '"' || c == '\\') return false;
  }
  return true;
}

// Appends `s` as a JSON string exactly as Dump prints it: `"` and `\\` escaped, \b \f \n \r \t,
// other control characters as \u00xx, everything else (UTF-8 included) as is; a string that is
// not valid UTF-8 goes through Dump (which replaces the bad bytes).
void AppendJsonString(std::string* out, absl::string_view s) {
  if (PlainJson(s)) {  // one pass for the usual string
    out->push_back('"');
    out->append(s.data(), s.size());
    out->push_back('"');
    return;
  }
  if (!ValidUtf8(s)) {
    out->append(Dump(Json(std::string(s))));
    return;
  }
  out->push_back('"');
  size_t plain = 0;  // start of the run not yet copied
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out->append(s.data() + plain, i - plain);
    plain = i + 1;
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\b':
        out->append("\\b");
        break;
      case '\f':
        out->append("\\f");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      default: {
        char u[7];
        std::snprintf(u, sizeof(u), "\\u%04x", c);
        out->append(u, 6);
      }
    }
  }
  out->append(s.data() + plain, s.size() - plain);
  out->push_back('"');
}

// A JSON object of the variables, as Vars() then Dump print it (a repeated name keeps its first
// place and its last value, as nlohmann's ordered_json does: such hits go through Vars()).
bool AppendVarsObject(std::string* out,
                      const google::protobuf::RepeatedPtrField<kdbg::v1::Variable>& vars) {
  for (int i = 0; i < vars.size(); ++i) {
    for (int k = 0; k < i; ++k) {
      if (vars[i].name() == vars[k].name()) return false;
    }
  }
  out->push_back('{');
  for (int i = 0; i < vars.size(); ++i) {
    if (i > 0) out->push_back(',');
    AppendJsonString(out, vars[i].name());
    out->push_back(':');
    AppendJsonString(out, vars[i].value());
  }
  out->push_back('}');
  return true;
}

}  // namespace

absl::Status ParseOutputFormat(const std::string& text, OutputFormat* format) {
  if (text == "text") {
    *format = OutputFormat::kText;
  } else if (text == "json") {
    *format = OutputFormat::kJson;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown output format \"", text, "\": use -o text or -o json"));
  }
  return absl::OkStatus();
}

std::string HitText(const kdbg::v1::HitEvent& hit) {
  if (hit.returned()) {
    // As `dlv trace` prints a return: ">> goroutine(1): main.fncall1 => (1)", values joined by ",".
    std::vector<std::string> values;
    values.reserve(static_cast<size_t>(hit.results_size()));
    for (const auto& r : hit.results()) values.push_back(r.value());
    return absl::StrFormat(">> goroutine(%d): %s => (%s)\n", hit.goroutine(), hit.function(),
                           absl::StrJoin(values, ","));
  }
  std::vector<std::string> arg_names;
  for (const auto& a : hit.args()) arg_names.push_back(a.name());
  std::string out =
      absl::StrFormat("> goroutine(%d): %s(%s) %s:%d\n", hit.goroutine(), hit.function(),
                      absl::StrJoin(arg_names, ", "), Basename(hit.file()), hit.line());
  for (const auto& v : hit.vars()) absl::StrAppend(&out, "\t", v.name(), ": ", v.value(), "\n");
  // A tracepoint with nothing to print (a quick trace, a bare `trace F`) shows its arguments'
  // values instead, as `dlv trace` does in its header.
  if (hit.vars().empty()) {
    for (const auto& a : hit.args()) {
      if (!a.value().empty()) absl::StrAppend(&out, "\t", a.name(), ": ", a.value(), "\n");
    }
  }
  if (!hit.stack().empty()) {
    absl::StrAppend(&out, "\tstack:\n");
    for (int i = 0; i < hit.stack_size(); ++i) {
      const auto& f = hit.stack(i);
      absl::StrAppendFormat(&out, "\t%4d  %s %s:%d\n", i, f.function(), f.file(), f.line());
    }
  }
  return out;
}

std::string ArmedText(const kdbg::v1::ArmedEvent& armed) {
  int n = armed.tracepoints_size();
  std::string out =
      absl::StrFormat("kdbg: armed %d tracepoint%s on PID %d (attach %d ms, arm %d ms)\n", n,
                      n == 1 ? "" : "s", armed.host_pid(), armed.attach_ms(), armed.arm_ms());
  if (armed.engine() == "ebpf") {
    absl::StrAppend(&out, "kdbg: engine ebpf (uprobes; the target is never stopped)",
                    armed.engine_note().empty() ? "" : absl::StrCat("; ", armed.engine_note()),
                    "\n");
  } else if (!armed.engine().empty()) {
    absl::StrAppend(&out, "kdbg: engine delve (every hit stops the target for about 1 ms)",
                    armed.engine_note().empty() ? "" : absl::StrCat("; ", armed.engine_note()),
                    "\n");
  }
  for (const auto& tp : armed.tracepoints()) {
    absl::StrAppend(&out, "kdbg:   ", tp.name(), " -> ", tp.function(), " ", tp.file(), ":",
                    tp.line());
    if (!tp.print().empty()) absl::StrAppend(&out, " print ", absl::StrJoin(tp.print(), ", "));
    if (!tp.cond().empty()) absl::StrAppend(&out, " if ", tp.cond());
    absl::StrAppend(&out, "\n");
  }
  return out;
}

std::string NoticeText(const kdbg::v1::NoticeEvent& notice) {
  if (notice.kind() == kdbg::v1::NOTICE_KIND_PROGRESS) {
    return absl::StrCat("kdbg: ", notice.message(), "\n");
  }
  return absl::StrCat("kdbg: ", kdbg::v1::Word(notice.kind()), ": ", notice.message(), "\n");
}

std::string EndReasonName(kdbg::v1::EndReason reason) {
  std::string name = kdbg::v1::EndReason_Name(reason);
  if (name.empty()) return absl::StrCat("unknown_", static_cast<int>(reason));
  constexpr absl::string_view kPrefix = "END_REASON_";
  if (absl::StartsWith(name, kPrefix)) name = name.substr(kPrefix.size());
  return absl::AsciiStrToLower(name);
}

std::string EndReasonText(kdbg::v1::EndReason reason) {
  using kdbg::v1::EndReason;
  switch (reason) {
    case kdbg::v1::END_REASON_CLIENT_STOP:
      return "stopped";
    case kdbg::v1::END_REASON_DURATION:
      return "duration elapsed";
    case kdbg::v1::END_REASON_MAX_HITS:
      return "max hits reached";
    case kdbg::v1::END_REASON_STOP_REQUESTED:
      return "stopped on request";
    case kdbg::v1::END_REASON_LEASE_EXPIRED:
      return "lease expired";
    case kdbg::v1::END_REASON_CLIENT_GONE:
      return "client connection lost";
    case kdbg::v1::END_REASON_AGENT_SHUTDOWN:
      return "agent shut down";
    case kdbg::v1::END_REASON_TARGET_EXITED:
      return "target exited";
    case kdbg::v1::END_REASON_ERROR:
      return "error";
    case kdbg::v1::END_REASON_RECOVERED:
      return "the agent died; its guardian or restarted agent ended the session safely";
    case kdbg::v1::END_REASON_REMOTE_CLIENT_LEFT:
      return "debugger client disconnected";
    case kdbg::v1::END_REASON_STOP_LIMIT:
      return "target stopped too long for its liveness probe";
    default:
      return EndReasonName(reason);
  }
}

bool CleanEnd(const kdbg::v1::EndedEvent& ended) {
  if (ended.target_traced()) return false;
  switch (ended.reason()) {
    case kdbg::v1::END_REASON_CLIENT_STOP:
    case kdbg::v1::END_REASON_DURATION:
    case kdbg::v1::END_REASON_MAX_HITS:
    case kdbg::v1::END_REASON_STOP_REQUESTED:
    case kdbg::v1::END_REASON_REMOTE_CLIENT_LEFT:
      return true;
    default:
      return false;
  }
}

std::string EndedText(const kdbg::v1::EndedEvent& ended) {
  std::string out = absl::StrCat("kdbg: ended: ", EndReasonText(ended.reason()), "; ", ended.hits(),
                                 ended.hits() == 1 ? " hit" : " hits");
  if (!ended.message().empty()) absl::StrAppend(&out, "; ", ended.message());
  if (ended.reason() == kdbg::v1::END_REASON_TARGET_EXITED) {
    absl::StrAppend(&out, " (exit status ", ended.target_exit_status(), ")");
  }
  if (ended.target_traced()) {
    absl::StrAppend(&out,
                    "; WARNING: the target is still traced, check it with the on-call runbook");
  }
  absl::StrAppend(&out, "\n");
  for (const kdbg::v1::PodOutcome& p : ended.pods()) {
    absl::StrAppend(&out, "kdbg:   pod/", p.pod(), p.node().empty() ? "" : " (", p.node(),
                    p.node().empty() ? "" : ")", ": ");
    if (p.outcome() == "failed") {
      absl::StrAppend(&out, "failed (", p.failure(), ")");
    } else {
      absl::StrAppend(&out, EndReasonText(p.reason()));
    }
    absl::StrAppend(&out, ", ", p.hits(), p.hits() == 1 ? " hit" : " hits");
    if (p.hits_over_total_rate() > 0) {
      absl::StrAppend(&out, " (", p.hits_over_total_rate(), " more over the total rate)");
    }
    if (!p.message().empty()) absl::StrAppend(&out, "; ", p.message());
    if (p.target_traced()) absl::StrAppend(&out, "; WARNING: the target is still traced");
    absl::StrAppend(&out, "\n");
  }
  return out;
}

namespace {
// A hit as one JSON line (without the newline), keys in EventJson's order; empty when a rare
// case (a repeated variable name) must take the generic path.
std::string HitJsonDirect(const kdbg::v1::Event& event) {
  const auto& h = event.hit();
  if (!h.stack().empty()) return "";  // rare: the generic path writes the frames
  std::string out;
  out.reserve(256);
  out.append("{\"type\":\"hit\"");
  if (!event.session_id().empty()) {
    out.append(",\"session\":");
    AppendJsonString(&out, event.session_id());
  }
  if (!event.pod().empty()) {
    out.append(",\"pod\":");
    AppendJsonString(&out, event.pod());
  }
  if (event.time_unix_nanos() != 0) {
    out.append(",\"time\":");
    AppendJsonString(&out, TimeString(event.time_unix_nanos()));
  }
  if (!event.unsupported_go().empty()) {
    out.append(",\"unsupported_go\":");
    AppendJsonString(&out, event.unsupported_go());
  }
  out.append(",\"tracepoint\":");
  AppendJsonString(&out, h.tracepoint());
  absl::StrAppend(&out, ",\"goroutine\":", h.goroutine(), ",\"function\":");
  AppendJsonString(&out, h.function());
  out.append(",\"file\":");
  AppendJsonString(&out, h.file());
  absl::StrAppend(&out, ",\"line\":", h.line(), ",\"hit_count\":", h.hit_count(), ",\"args\":");
  if (!AppendVarsObject(&out, h.args())) return "";
  out.append(",\"vars\":");
  if (!AppendVarsObject(&out, h.vars())) return "";
  if (h.returned()) {
    out.append(",\"returned\":true,\"results\":");
    if (!AppendVarsObject(&out, h.results())) return "";
  }
  out.push_back('}');
  return out;
}
}  // namespace

std::string EventJson(const kdbg::v1::Event& event) {
  switch (event.kind_case()) {
    case kdbg::v1::Event::kArmed: {
      const auto& a = event.armed();
      Json j = Head("armed", event);
      j["pid"] = a.host_pid();
      j["attach_ms"] = a.attach_ms();
      j["arm_ms"] = a.arm_ms();
      if (!a.engine().empty()) j["engine"] = a.engine();
      if (!a.engine_note().empty()) j["engine_note"] = a.engine_note();
      Json tps = Json::array();
      for (const auto& tp : a.tracepoints()) {
        Json t;
        t["name"] = tp.name();
        t["location"] = tp.location();
        t["function"] = tp.function();
        t["file"] = tp.file();
        t["line"] = tp.line();
        if (!tp.print().empty())
          t["print"] = std::vector<std::string>(tp.print().begin(), tp.print().end());
        if (!tp.cond().empty()) t["cond"] = tp.cond();
        tps.push_back(std::move(t));
      }
      j["tracepoints"] = std::move(tps);
      return Dump(j);
    }
    case kdbg::v1::Event::kHit: {
      // The hot path (thousands of hits a second): written directly, byte for byte what the
      // generic path below prints (output_test checks both agree).
      std::string fast = HitJsonDirect(event);
      if (!fast.empty()) return fast;
      const auto& h = event.hit();
      Json j = Head("hit", event);
      j["tracepoint"] = h.tracepoint();
      j["goroutine"] = h.goroutine();
      j["function"] = h.function();
      j["file"] = h.file();
      j["line"] = h.line();
      j["hit_count"] = h.hit_count();
      j["args"] = Vars(h.args());
      j["vars"] = Vars(h.vars());
      if (!h.stack().empty()) {
        Json frames = Json::array();
        for (const auto& f : h.stack()) {
          Json fj;
          fj["function"] = f.function();
          fj["file"] = f.file();
          fj["line"] = f.line();
          frames.push_back(std::move(fj));
        }
        j["stack"] = std::move(frames);
      }
      if (h.returned()) {
        j["returned"] = true;
        j["results"] = Vars(h.results());
      }
      return Dump(j);
    }
    case kdbg::v1::Event::kEnded: {
      const auto& e = event.ended();
      Json j = Head("ended", event);
      j["reason"] = EndReasonName(e.reason());
      j["hits"] = e.hits();
      j["message"] = e.message();
      j["target_alive"] = e.target_alive();
      j["target_traced"] = e.target_traced();
      if (e.reason() == kdbg::v1::END_REASON_TARGET_EXITED) {
        j["target_exit_status"] = e.target_exit_status();
      }
      if (e.hits_over_total_rate() > 0) j["hits_over_total_rate"] = e.hits_over_total_rate();
      if (e.pods_size() > 0) {
        Json pods = Json::array();
        for (const kdbg::v1::PodOutcome& p : e.pods()) {
          Json o;
          o["pod"] = p.pod();
          if (!p.node().empty()) o["node"] = p.node();
          o["outcome"] = p.outcome();
          if (p.outcome() == "failed") {
            o["failure"] = p.failure();
          } else {
            o["reason"] = EndReasonName(p.reason());
            o["target_alive"] = p.target_alive();
            o["target_traced"] = p.target_traced();
          }
          o["hits"] = p.hits();
          if (p.hits_over_total_rate() > 0) o["hits_over_total_rate"] = p.hits_over_total_rate();
          o["message"] = p.message();
          if (!p.session_id().empty()) o["session"] = p.session_id();
          pods.push_back(std::move(o));
        }
        j["pods"] = std::move(pods);
      }
      return Dump(j);
    }
    case kdbg::v1::Event::kError: {
      // A pod's part that failed in a session over several pods: "failed" (the session goes on).
      Json j = Head(event.pod().empty() ? "error" : "failed", event);
      if (!event.error().failure().empty()) j["failure"] = event.error().failure();
      j["code"] = event.error().code();
      j["message"] = event.error().message();
      return Dump(j);
    }
    default:
      return "";
  }
}

std::string ErrorJson(const std::string& code, const std::string& message) {
  Json j;
  j["type"] = "error";
  j["code"] = code;
  j["message"] = message;
  return Dump(j);
}

namespace {
// Prefixes every line of `text` with `mark`.
std::string MarkLines(const std::string& text, absl::string_view mark) {
  if (text.empty()) return text;
  std::string out;
  size_t start = 0;
  while (start < text.size()) {
    size_t nl = text.find('\n', start);
    size_t end = nl == std::string::npos ? text.size() : nl + 1;
    absl::StrAppend(&out, mark, absl::string_view(text).substr(start, end - start));
    start = end;
  }
  return out;
}
Rendered RenderUnmarked(const kdbg::v1::Event& event, OutputFormat format);
// "kdbg: X" -> "kdbg: POD: X", line by line (other lines get "POD " in front).
std::string PodLines(const std::string& text, const std::string& pod) {
  if (text.empty()) return text;
  std::string out;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    if (absl::ConsumePrefix(&line, "kdbg: ")) {
      absl::StrAppend(&out, "kdbg: ", pod, ": ", line, "\n");
    } else {
      absl::StrAppend(&out, pod, " ", line, "\n");
    }
  }
  return out;
}
}  // namespace

Rendered RenderEvent(const kdbg::v1::Event& event, OutputFormat format) {
  Rendered r = RenderUnmarked(event, format);
  if (!event.pod().empty()) {
    // A part of a session over several pods: every line names its pod ("pod/web-1 > goroutine..."
    // on stdout, "kdbg: pod/web-1: armed ..." on stderr); JSON lines carry "pod" instead.
    const std::string pod = absl::StrCat("pod/", event.pod());
    if (format == OutputFormat::kText) r.out = MarkLines(r.out, absl::StrCat(pod, " "));
    r.err = PodLines(r.err, pod);
  }
  if (event.unsupported_go().empty()) return r;
  // A session forced onto a Go version outside the bundled Delve's range: every line says so (JSON
  // lines carry "unsupported_go" instead of a prefix, so they stay JSON).
  if (format == OutputFormat::kText) r.out = MarkLines(r.out, kUnsupportedGoMark);
  r.err = MarkLines(r.err, kUnsupportedGoMark);
  if (event.has_armed())
    r.err += MarkLines(absl::StrCat("kdbg: ", event.unsupported_go(), "\n"), kUnsupportedGoMark);
  return r;
}

namespace {
std::string ErrorText(const kdbg::v1::Event& event) {
  const kdbg::v1::ErrorEvent& e = event.error();
  if (event.pod().empty()) return absl::StrCat("kdbg: error: ", e.message(), " (", e.code(), ")\n");
  return absl::StrCat("kdbg: failed (", e.failure().empty() ? "error" : e.failure(),
                      "): ", e.message(), " (", e.code(), "); the other pods go on\n");
}

Rendered RenderUnmarked(const kdbg::v1::Event& event, OutputFormat format) {
  Rendered r;
  if (event.has_notice()) {
    r.err = NoticeText(event.notice());
    return r;
  }
  if (format == OutputFormat::kJson) {
    std::string line = EventJson(event);
    if (!line.empty()) r.out = line + "\n";
    // People watching a JSON stream still see why it ended, or failed.
    if (event.has_ended()) r.err = EndedText(event.ended());
    if (event.has_error()) r.err = ErrorText(event);
    return r;
  }
  switch (event.kind_case()) {
    case kdbg::v1::Event::kArmed:
      r.err = ArmedText(event.armed());
      break;
    case kdbg::v1::Event::kHit:
      r.out = HitText(event.hit());
      break;
    case kdbg::v1::Event::kEnded:
      r.err = EndedText(event.ended());
      break;
    case kdbg::v1::Event::kError:
      r.err = ErrorText(event);
      break;
    default:
      break;
  }
  return r;
}
}  // namespace

std::string CodeName(absl::StatusCode code) {
  std::string name = absl::StatusCodeToString(code);
  for (char& c : name) c = c == ' ' ? '_' : absl::ascii_toupper(c);
  return name;
}

namespace {
Json ResolveObject(const kdbg::v1::ControllerResolveResponse& r,
                   const kdbg::v1::PodTarget& target) {
  const auto& t = r.target();
  Json j;
  j["type"] = "resolved";
  j["namespace"] = target.namespace_();
  j["pod"] = target.pod();
  j["container"] = r.container().empty() ? target.container() : r.container();
  j["node"] = r.node_name();
  j["agent"] = r.agent();
  j["debuggable"] = t.debuggable();
  j["problem"] = t.problem();
  j["host_pid"] = t.host_pid();
  j["container_id"] = t.container_id();
  j["runtime"] = t.runtime();
  Json b;
  b["path"] = t.binary().path();
  b["go_version"] = t.binary().go_version();
  b["module_path"] = t.binary().module_path();
  b["has_dwarf"] = t.binary().has_dwarf();
  b["optimized"] = t.binary().optimized();
  b["stripped"] = t.binary().stripped();
  b["build_id"] = t.binary().build_id();
  j["binary"] = std::move(b);
  j["needs_debug_binary"] = t.needs_debug_binary();
  j["delve_version"] = t.delve_version();
  j["supported_go"] = t.supported_go();
  j["go_supported"] = t.go_supported();
  j["evidence"] = std::vector<std::string>(t.evidence().begin(), t.evidence().end());
  if (r.has_stop_budget()) {
    const auto& sb = r.stop_budget();
    Json l;
    l["probe"] = sb.probe();
    l["budget_ms"] = sb.budget_ms();
    l["max_stop_ms"] = sb.max_stop_ms();
    l["share_percent"] = sb.share_percent();
    l["summary"] = sb.summary();
    j["liveness"] = std::move(l);
  }
  return j;
}
}  // namespace

std::string ResolveJson(const kdbg::v1::ControllerResolveResponse& resolved,
                        const kdbg::v1::PodTarget& target) {
  return Dump(ResolveObject(resolved, target)) + "\n";
}

std::string ResolveText(const kdbg::v1::ControllerResolveResponse& r,
                        const kdbg::v1::PodTarget& target) {
  const auto& t = r.target();
  const auto& b = t.binary();
  std::string out;
  absl::StrAppend(&out, "pod:        ", target.namespace_(), "/", target.pod(), "\n");
  absl::StrAppend(&out, "container:  ", r.container().empty() ? target.container() : r.container(),
                  "\n");
  absl::StrAppend(&out, "node:       ", r.node_name(), " (agent ", r.agent(), ")\n");
  absl::StrAppend(&out, "process:    PID ", t.host_pid(), " on the node");
  if (t.container_pid_namespace_pid() != 0) {
    absl::StrAppend(&out, ", PID ", t.container_pid_namespace_pid(), " in the container");
  }
  absl::StrAppend(&out, "\n");
  if (!t.cmdline().empty())
    absl::StrAppend(&out, "command:    ", absl::StrJoin(t.cmdline(), " "), "\n");
  absl::StrAppend(&out, "runtime:    ", t.runtime(), " ", t.container_id(), "\n");
  absl::StrAppend(&out, "binary:     ", b.path(), "\n");
  absl::StrAppend(&out,
                  "go:         ", b.go_version().empty() ? "not a Go program" : b.go_version(),
                  b.module_path().empty() ? "" : absl::StrCat(" (", b.module_path(), ")"), "\n");
  if (!t.supported_go().empty()) {
    absl::StrAppend(&out, "delve:      ", t.delve_version(), "; bundled Delve supports ",
                    t.supported_go(), "; ", b.go_version(),
                    t.go_supported() ? " is supported" : " is NOT supported", "\n");
  }
  absl::StrAppend(&out, "debug info: ", b.has_dwarf() ? "DWARF" : "no DWARF",
                  b.optimized() ? ", optimized" : ", not optimized",
                  b.stripped() ? ", stripped" : "", "\n");
  if (!b.build_id().empty()) absl::StrAppend(&out, "build id:   ", b.build_id(), "\n");
  if (r.has_stop_budget()) absl::StrAppend(&out, "liveness:   ", r.stop_budget().summary(), "\n");
  if (t.needs_debug_binary()) {
    absl::StrAppend(&out,
                    "symbols:    none in the image; pass the unstripped binary whose build ID "
                    "is the one above with --debug-binary FILE\n");
  }
  if (t.debuggable()) {
    absl::StrAppend(&out, "debuggable: yes\n");
  } else {
    absl::StrAppend(&out, "debuggable: no: ", t.problem(), "\n");
  }
  if (!t.evidence().empty()) {
    absl::StrAppend(&out, "evidence:\n");
    for (const auto& e : t.evidence()) absl::StrAppend(&out, "  ", e, "\n");
  }
  return out;
}

std::string SessionsJson(const kdbg::v1::ControllerListSessionsResponse& sessions) {
  std::string out;
  for (const auto& s : sessions.sessions()) {
    const auto& i = s.info();
    Json j;
    j["type"] = "session";
    j["id"] = i.id();
    j["mode"] = Word(i.mode());
    j["namespace"] = s.target().namespace_();
    j["pod"] = s.target().pod();
    j["container"] = s.target().container();
    j["node"] = s.node_name().empty() ? i.node_name() : s.node_name();
    j["pid"] = i.host_pid();
    j["user"] = i.user();
    j["state"] = Word(i.state());
    j["hits"] = i.hits();
    j["start"] = TimeString(i.start_unix_nanos());
    j["lease_expiry"] = TimeString(i.lease_expiry_unix_nanos());
    absl::StrAppend(&out, Dump(j), "\n");
  }
  return out;
}

std::string VersionText(const std::string& cli_version,
                        const kdbg::v1::ControllerVersionResponse* controller) {
  std::string out = absl::StrCat("kdbg ", cli_version, "\n");
  if (controller == nullptr) return out;
  absl::StrAppend(&out, "kdbg-controller ", controller->controller().version(), "\n");
  for (const auto& a : controller->agents()) {
    absl::StrAppend(&out, "kdbg-agent ", a.version().empty() ? "?" : a.version(), " on ",
                    a.node_name().empty() ? "?" : a.node_name(), " (delve ",
                    a.delve_version().empty() ? "unknown" : a.delve_version(), ")");
    if (!a.pod_name().empty()) absl::StrAppend(&out, " pod ", a.pod_name());
    if (!a.cannot_debug().empty()) {
      absl::StrAppend(&out, ": CANNOT DEBUG: ", a.cannot_debug());
    } else if (!a.ready() && !a.pod_name().empty()) {
      absl::StrAppend(&out, ": not ready yet");
    } else if (!a.ebpf_unavailable().empty()) {
      absl::StrAppend(&out, "; eBPF engine unavailable: ", a.ebpf_unavailable());
    }
    absl::StrAppend(&out, "\n");
  }
  if (controller->agents().empty()) absl::StrAppend(&out, "no agents registered\n");
  return out;
}

}  // namespace kdbg::cli
