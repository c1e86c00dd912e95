#include "agent/service/debug_protocol.h"

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "nlohmann/json.hpp"

namespace kdbg::agent {
namespace {

using nlohmann::json;

// std::string::append takes no absl::string_view (Abseil's own type here).
void Append(std::string* out, absl::string_view v) { out->append(v.data(), v.size()); }

constexpr absl::string_view kHeaderEnd = "\r\n\r\n";
constexpr absl::string_view kWhitespace = " \t\r\n";

// A JSON string literal of `text`, invalid UTF-8 replaced (dump() would throw).
std::string Quote(const std::string& text) {
  return json(text).dump(-1, ' ', false, json::error_handler_t::replace);
}

// DAP: the value of the Content-Length field of a header ("Content-Length: 77\r\n\r\n").
std::optional<size_t> ContentLength(absl::string_view header) {
  for (absl::string_view line : absl::StrSplit(header, "\r\n", absl::SkipEmpty())) {
    size_t colon = line.find(':');
    if (colon == absl::string_view::npos) continue;
    if (absl::StripAsciiWhitespace(line.substr(0, colon)) != "Content-Length") continue;
    size_t n = 0;
    if (!absl::SimpleAtoi(line.substr(colon + 1), &n)) return std::nullopt;
    return n;
  }
  return std::nullopt;
}

// Whether the start of a JSON object (`json`, possibly cut short) has "key": "value" (string),
// as JSON encoders write it, with or without spaces around the colon.
bool HasField(absl::string_view json, absl::string_view key, absl::string_view value) {
  const std::string quoted_key = absl::StrCat("\"", key, "\"");
  const std::string quoted_value = absl::StrCat("\"", value, "\"");
  for (size_t at = json.find(quoted_key); at != absl::string_view::npos;
       at = json.find(quoted_key, at + 1)) {
    size_t i = at + quoted_key.size();
    while (i < json.size() && (json[i] == ' ' || json[i] == '\t')) ++i;
    if (i >= json.size() || json[i] != ':') continue;
    ++i;
    while (i < json.size() && (json[i] == ' ' || json[i] == '\t')) ++i;
    if (absl::StartsWith(json.substr(i), quoted_value)) return true;
  }
  return false;
}

std::string DapMessage(absl::string_view body) {
  return absl::StrCat("Content-Length: ", body.size(), kHeaderEnd, body);
}

// What a client asking to kill the target is told instead. dlv prints a JSON-RPC error as it exits
// (its quit returns the error); an IDE shows a DAP output event in its debug console.
constexpr char kKillRefused[] =
    "kdbg: refused to kill the target: kdbg attach never lets a debugger end the pod's process. "
    "Delve stays attached and the target runs on (a stop no client holds is resumed within "
    "seconds). To leave dlv: clearall, then quit -c, or quit and answer n to \"kill the "
    "process?\"; to end the session: Ctrl-C on kdbg attach, or kdbg stop";
constexpr char kDapTerminateRefused[] =
    "kdbg: the debugger disconnected without terminating the target: kdbg attach never lets a "
    "debugger end the pod's process. The target runs on; Ctrl-C on kdbg attach (or kdbg stop) "
    "ends the session";

// Whether `name: value` is field `key` set to true. Go's encoding/json (Delve's JSON-RPC and
// go-dap) matches a field's name case-insensitively, so "kill" is Kill too.
bool IsTrueField(absl::string_view name, const json& value, absl::string_view key) {
  return absl::EqualsIgnoreCase(name, key) && value.is_boolean() && value.get<bool>();
}

bool HasTrueField(const json& object, absl::string_view key) {
  for (const auto& [name, value] : object.items()) {
    if (IsTrueField(name, value, key)) return true;
  }
  return false;
}

// Sets every field `key` (any case) that is true to false; returns whether there was one.
bool ClearTrueFields(json* object, absl::string_view key) {
  bool cleared = false;
  for (auto& [name, value] : object->items()) {
    if (IsTrueField(name, value, key)) {
      value = false;
      cleared = true;
    }
  }
  return cleared;
}

}  // namespace

std::string KillRefusedNotice(DebugProtocol p) {
  if (p == DebugProtocol::kDap) {
    return "a debugger (DAP: an IDE's Stop) asked to terminate the target as it disconnected; "
           "kdbg disconnected it without ending the target, which runs on. Ctrl-C here (or kdbg "
           "stop) ends the session";
  }
  return "a debugger client (dlv: quit, then y to \"kill the process?\") asked Delve to kill the "
         "target; refused: the target runs on and Delve stays attached. To leave dlv, quit and "
         "answer n; Ctrl-C here (or kdbg stop) ends the session";
}

const char* DebugProtocolName(DebugProtocol p) {
  switch (p) {
    case DebugProtocol::kUndecided:
      return "undecided";
    case DebugProtocol::kDap:
      return "dap";
    case DebugProtocol::kJsonRpc:
      return "json-rpc";
    case DebugProtocol::kPassThrough:
      return "pass-through";
  }
  return "pass-through";
}

size_t MessageScanner::Next(absl::string_view data, bool* ended) {
  *ended = false;
  if (failed_) return data.size();
  switch (protocol_) {
    case DebugProtocol::kDap:
      return NextDap(data, ended);
    case DebugProtocol::kJsonRpc:
      return NextJson(data, ended);
    default:
      Fail();
      return data.size();
  }
}

std::vector<size_t> MessageScanner::Boundaries(absl::string_view data) {
  std::vector<size_t> out;
  size_t at = 0;
  while (at < data.size()) {
    bool ended = false;
    at += Next(data.substr(at), &ended);
    if (ended) out.push_back(at);
  }
  return out;
}

bool MessageScanner::at_boundary() const {
  if (failed_) return false;
  if (protocol_ == DebugProtocol::kDap) return !in_body_ && header_.empty();
  return depth_ == 0;
}

size_t MessageScanner::NextDap(absl::string_view data, bool* ended) {
  size_t i = 0;
  while (i < data.size()) {
    if (!in_body_) {
      header_.push_back(data[i++]);
      if (header_.size() > kMaxHeader) {
        Fail();
        return data.size();
      }
      if (!absl::EndsWith(header_, kHeaderEnd)) continue;
      std::optional<size_t> n = ContentLength(header_);
      if (!n.has_value() || *n > kMaxBody) {
        Fail();
        return data.size();
      }
      header_.clear();
      peek_.clear();
      body_left_ = *n;
      in_body_ = true;
    }
    size_t take = std::min(body_left_, data.size() - i);
    if (peek_.size() < kPeek) Append(&peek_, data.substr(i, std::min(take, kPeek - peek_.size())));
    i += take;
    body_left_ -= take;
    if (body_left_ == 0) {
      in_body_ = false;
      last_peek_ = std::move(peek_);
      peek_.clear();
      *ended = true;
      return i;
    }
  }
  return i;
}

size_t MessageScanner::NextJson(absl::string_view data, bool* ended) {
  for (size_t i = 0; i < data.size(); ++i) {
    const char c = data[i];
    if (depth_ == 0) {
      if (kWhitespace.find(c) != absl::string_view::npos) continue;
      if (c != '{') {  // Go's codec writes objects only
        Fail();
        return data.size();
      }
      depth_ = 1;
      continue;
    }
    if (in_string_) {
      if (escape_) {
        escape_ = false;
      } else if (c == '\\') {
        escape_ = true;
      } else if (c == '"') {
        in_string_ = false;
      }
      continue;
    }
    if (c == '"') {
      in_string_ = true;
    } else if (c == '{' || c == '[') {
      if (++depth_ > kMaxDepth) {
        Fail();
        return data.size();
      }
    } else if (c == '}' || c == ']') {
      if (--depth_ == 0) {
        *ended = true;
        return i + 1;
      }
    }
  }
  return data.size();
}

std::string DebugTunnelFilter::JsonRpcError(absl::string_view id, const std::string& text) {
  return absl::StrCat("{\"id\":", id, ",\"result\":null,\"error\":", Quote(text), "}\n");
}

std::string DebugTunnelFilter::DapOutput(const std::string& text) {
  return DapMessage(
      absl::StrCat("{\"seq\":0,\"type\":\"event\",\"event\":\"output\",\"body\":{"
                   "\"category\":\"important\",\"output\":",
                   Quote(text + "\n"), "}}"));
}

std::string DebugTunnelFilter::DapNotice(const std::string& text, int64_t thread_id) {
  return absl::StrCat(
      DapOutput(text),
      DapMessage(absl::StrCat(
          "{\"seq\":0,\"type\":\"event\",\"event\":\"continued\",\"body\":{\"threadId\":",
          thread_id, ",\"allThreadsContinued\":true}}")));
}

std::string DebugTunnelFilter::DapPaused() {
  return DapMessage(
      "{\"seq\":0,\"type\":\"event\",\"event\":\"stopped\",\"body\":{\"reason\":\"pause\","
      "\"description\":\"Paused (kdbg halted the program for this client)\","
      "\"allThreadsStopped\":true}}");
}

void DebugTunnelFilter::Decide(char first) {
  // Delve decides by the very first byte ('C': DAP, anything else: JSON-RPC, whose Go decoder
  // skips leading whitespace); a 'C' after whitespace is JSON-RPC to Delve, which it cannot parse.
  if (first == 'C' && !leading_space_) {
    protocol_ = DebugProtocol::kDap;
  } else if (first == '{') {
    protocol_ = DebugProtocol::kJsonRpc;
  } else {
    protocol_ = DebugProtocol::kPassThrough;
    pending_.reset();
    return;
  }
  from_client_.emplace(protocol_);
  from_delve_.emplace(protocol_);
}

void DebugTunnelFilter::FailToPassThrough(std::string* to_delve, std::string* to_client) {
  protocol_ = DebugProtocol::kPassThrough;
  for (std::string& r : held_get_events_) to_delve->append(r);
  held_get_events_.clear();
  to_delve->append(held_);
  held_.clear();
  holding_ = false;
  // A request answered here must still get its answer, though no boundary can be found any more.
  to_client->append(replies_);
  replies_.clear();
  pending_.reset();
  answer_get_events_ = 0;
}

void DebugTunnelFilter::FromClient(std::string* data) {
  if (data->empty()) return;
  if (protocol_ == DebugProtocol::kUndecided) {
    // Whitespace before the first request is JSON-RPC to Delve as much as a '{' is: it must not
    // make the requests after it pass unseen.
    const size_t first = absl::string_view(*data).find_first_not_of(kWhitespace);
    if (first == absl::string_view::npos) {
      leading_space_ = true;
      return;  // goes on as it is; nothing to frame yet
    }
    leading_space_ = leading_space_ || first > 0;
    Decide((*data)[first]);
  }
  if (protocol_ == DebugProtocol::kPassThrough) return;
  // Every message is held until it ends (one over kMaxHeldRequest goes on as it comes), so that
  // one asking to kill the target, or one a notice answers, never reaches Delve as sent.
  MessageScanner& scanner = *from_client_;
  const std::string in = std::move(*data);
  std::string out;
  size_t i = 0;
  while (i < in.size()) {
    const bool was_boundary = scanner.at_boundary();
    bool ended = false;
    size_t n = scanner.Next(absl::string_view(in).substr(i), &ended);
    absl::string_view piece = absl::string_view(in).substr(i, n);
    i += n;
    if (scanner.failed()) {
      std::string to_client;
      FailToPassThrough(&out, &to_client);
      replies_ = std::move(to_client);  // goes out by TakeReplies (the Delve side still frames)
      Append(&out, piece);
      Append(&out, absl::string_view(in).substr(i));
      break;
    }
    if (ended && protocol_ == DebugProtocol::kDap) ObserveClient(scanner);
    if (!holding_ && was_boundary) {
      size_t start = piece.find_first_not_of(kWhitespace);  // JSON-RPC: "\n" between requests
      if (start == absl::string_view::npos) {
        Append(&out, piece);
        continue;
      }
      Append(&out, piece.substr(0, start));
      piece = piece.substr(start);
      holding_ = true;
      held_.clear();
    }
    if (!holding_) {
      Append(&out, piece);
      continue;
    }
    Append(&held_, piece);
    if (held_.size() > kMaxHeldRequest) {
      // Too large to hold: forwarded as it comes; a notice answers the next request instead.
      out.append(held_);
      held_.clear();
      holding_ = false;
    } else if (ended) {
      holding_ = false;
      std::string message = std::move(held_);
      held_.clear();
      if (protocol_ == DebugProtocol::kDap) {
        HandleDapRequest(message, &out);
      } else {
        HandleRequest(std::move(message), &out);
      }
    }
  }
  *data = std::move(out);
}

void DebugTunnelFilter::HandleDapRequest(const std::string& message, std::string* out) {
  // VS Code's Stop button on an attach configuration, whose default Delve honours by killing the
  // target: {"command":"disconnect","arguments":{"restart":false,"terminateDebuggee":true},
  // "type":"request","seq":14}. The peek is the body's first kPeek bytes; it decides cheaply.
  const std::string& p = from_client_->peek();
  if (!HasField(p, "command", "disconnect") || !HasField(p, "type", "request")) {
    out->append(message);
    return;
  }
  const absl::string_view whole(message);
  const size_t body_at = whole.find(kHeaderEnd);  // there is one: the scanner ended the message
  json j = json::parse(whole.substr(body_at + kHeaderEnd.size()), nullptr, false);
  json* arguments = j.is_object() && j.contains("arguments") ? &j["arguments"] : nullptr;
  if (arguments == nullptr || !arguments->is_object() ||
      !ClearTrueFields(arguments, "terminateDebuggee")) {
    out->append(message);
    return;
  }
  ++refused_kills_;
  replies_ += DapOutput(kDapTerminateRefused);
  out->append(DapMessage(j.dump(-1, ' ', false, json::error_handler_t::replace)));
}

void DebugTunnelFilter::HandleRequest(std::string request, std::string* out) {
  json j = json::parse(request, nullptr, /*allow_exceptions=*/false);
  const json* method = j.is_object() && j.contains("method") ? &j["method"] : nullptr;
  if (method == nullptr || !method->is_string() || !j.contains("id")) {
    out->append(request);
    return;
  }
  const std::string name = method->get<std::string>();
  const std::string id = j["id"].dump();
  auto flush_get_events = [&] {
    for (std::string& r : held_get_events_) out->append(r);
    held_get_events_.clear();
  };
  if (name == "RPCServer.GetEvents") {
    if (answer_get_events_ > 0) {
      --answer_get_events_;
      replies_ += JsonRpcError(id, answered_text_);
      return;
    }
    if (pending_.has_value() && held_get_events_.size() < kMaxHeldGetEvents) {
      held_get_events_.push_back(std::move(request));
      return;
    }
    flush_get_events();
    out->append(request);
    return;
  }
  // `dlv connect`'s quit, after "yes" to "Would you like to kill the headless instance? [Y/n]":
  // {"method":"RPCServer.Detach","params":[{"Kill":true}],"id":9} with "yes" (its default) to
  // "Would you like to kill the process? [Y/n]", "Kill":false with "no". Neither reaches Delve.
  // A kill is refused with an error dlv prints as it exits; Delve stays attached and the target
  // runs on. A plain detach is answered as Delve answers it ({"id":9,"result":{},"error":null})
  // and the session ends, safely, as the client asked (Delve would detach and exit under it). A
  // client leaving is not told a notice.
  if (name == "RPCServer.Detach") {
    pending_.reset();
    flush_get_events();
    const json* params = j.contains("params") ? &j["params"] : nullptr;
    const bool kill = params != nullptr && params->is_array() && !params->empty() &&
                      (*params)[0].is_object() && HasTrueField((*params)[0], "Kill");
    if (kill) {
      ++refused_kills_;
      replies_ += JsonRpcError(id, kKillRefused);
    } else {
      ++detaches_;
      replies_ += absl::StrCat("{\"id\":", id, ",\"result\":{},\"error\":null}\n");
    }
    return;
  }
  if (!pending_.has_value()) {
    // Not ours to answer: forwarded (after the GetEvents that came with it).
    flush_get_events();
    out->append(request);
    return;
  }
  std::string text = absl::StrCat(
      *pending_, " [kdbg answered this request itself; it did not reach Delve: ", "send it again]");
  pending_.reset();
  ++delivered_;
  replies_ += JsonRpcError(id, text);
  const json* params = j.contains("params") && j["params"].is_array() && !j["params"].empty()
                           ? &j["params"][0]
                           : nullptr;
  const bool with_events = params != nullptr && params->is_object() &&
                           params->contains("WithEvents") && (*params)["WithEvents"].is_boolean() &&
                           (*params)["WithEvents"].get<bool>();
  if (!with_events) {
    flush_get_events();
    return;
  }
  // The client waits for the events of this request too (dlv's drainEvents): answer its GetEvents,
  // held or still to come, with the same error.
  if (held_get_events_.empty()) {
    answer_get_events_ = 1;
    answered_text_ = text;
    return;
  }
  for (const std::string& r : held_get_events_) {
    json g = json::parse(r, nullptr, false);
    replies_ += JsonRpcError(g["id"].dump(), text);
  }
  held_get_events_.clear();
}

void DebugTunnelFilter::ObserveClient(const MessageScanner& scanner) {
  // VS Code writes {"command":"pause","arguments":{"threadId":1},"type":"request","seq":12}.
  if (told_running_ && HasField(scanner.peek(), "type", "request") &&
      HasField(scanner.peek(), "command", "pause")) {
    pause_asked_ = true;
  }
}

void DebugTunnelFilter::Observe(const MessageScanner& scanner) {
  if (protocol_ != DebugProtocol::kDap) return;
  const std::string& p = scanner.peek();
  // Delve's answer: {"seq":31,"type":"response","request_seq":12,"success":true,
  // "command":"pause"}.
  if (pause_asked_ && HasField(p, "type", "response") && HasField(p, "command", "pause") &&
      p.find("\"success\":true") != std::string::npos) {
    pause_asked_ = false;
    told_running_ = false;
    paused_due_ = true;
    return;
  }
  // Delve writes {"seq":9,"type":"event","event":"stopped","body":{"reason":"breakpoint",
  // "threadId":23,...}}: the fields are within the body's first bytes.
  if (!HasField(p, "event", "stopped")) return;
  told_running_ = false;  // Delve told the IDE of a stop itself
  pause_asked_ = false;
  size_t at = p.find("\"threadId\":");
  if (at == std::string::npos) return;
  at += absl::string_view("\"threadId\":").size();
  size_t end = p.find_first_not_of("0123456789", at);
  int64_t id = 0;
  if (absl::SimpleAtoi(absl::string_view(p).substr(at, end - at), &id)) last_thread_id_ = id;
}

void DebugTunnelFilter::AppendDue(std::string* out) {
  if (protocol_ == DebugProtocol::kDap && paused_due_) {
    out->append(DapPaused());
    paused_due_ = false;
  }
  if (protocol_ == DebugProtocol::kDap && pending_.has_value()) {
    out->append(DapNotice(*pending_, last_thread_id_));
    pending_.reset();
    ++delivered_;
    told_running_ = true;
    pause_asked_ = false;
  }
  out->append(replies_);
  replies_.clear();
}

void DebugTunnelFilter::FromDelve(std::string* data) {
  if (data->empty()) return;
  if (protocol_ == DebugProtocol::kUndecided) {
    // Delve spoke first (neither protocol does): nothing to frame by.
    protocol_ = DebugProtocol::kPassThrough;
    pending_.reset();
    return;
  }
  if (protocol_ == DebugProtocol::kPassThrough) return;
  MessageScanner& scanner = *from_delve_;
  const bool due =
      (protocol_ == DebugProtocol::kDap && (pending_.has_value() || pause_asked_ || paused_due_)) ||
      !replies_.empty();
  if (!due && protocol_ == DebugProtocol::kJsonRpc) {
    (void)scanner.Boundaries(*data);
    if (scanner.failed()) FailToPassThrough(&to_delve_, data);
    return;
  }
  if (!due) {  // DAP: watch for stopped events (their threadId)
    size_t at = 0;
    while (at < data->size()) {
      bool ended = false;
      at += scanner.Next(absl::string_view(*data).substr(at), &ended);
      if (ended) Observe(scanner);
    }
    if (scanner.failed()) FailToPassThrough(&to_delve_, data);
    return;
  }
  const std::string in = std::move(*data);
  std::string out;
  size_t i = 0;
  while (true) {
    if (scanner.at_boundary()) AppendDue(&out);
    if (i >= in.size()) break;
    bool ended = false;
    size_t n = scanner.Next(absl::string_view(in).substr(i), &ended);
    Append(&out, absl::string_view(in).substr(i, n));
    i += n;
    if (scanner.failed()) {
      Append(&out, absl::string_view(in).substr(i));
      FailToPassThrough(&to_delve_, &out);
      break;
    }
    if (ended) Observe(scanner);
  }
  *data = std::move(out);
}

std::string DebugTunnelFilter::Notify(const std::string& text) {
  // A client that has not spoken yet holds no stop to be told about.
  if (protocol_ == DebugProtocol::kPassThrough || protocol_ == DebugProtocol::kUndecided) return "";
  pending_ = text;
  std::string out;
  if (protocol_ == DebugProtocol::kDap && from_delve_->at_boundary()) AppendDue(&out);
  return out;
}

std::string DebugTunnelFilter::TakeReplies() {
  if (replies_.empty() || !from_delve_.has_value() || !from_delve_->at_boundary()) return "";
  return std::exchange(replies_, {});
}

}  // namespace kdbg::agent
