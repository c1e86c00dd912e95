#include "agent/delve/rpc_client.h"

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "agent/delve/json_access.h"
#include "common/clock.h"
#include "common/status.h"

namespace kdbg::delve {

using nlohmann::json;

absl::Status DelveClient::Send(const std::string& method, json params) {
  if (pending_id_ != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("Delve call ", method, " sent while call ", pending_id_, " is pending"));
  }
  uint64_t id = next_id_++;
  json req = {{"method", method}, {"params", json::array({std::move(params)})}, {"id", id}};
  // `replace`: a string that is not valid UTF-8 (from a script) must not make dump() throw.
  KDBG_RETURN_IF_ERROR(conn_->Send(req.dump(-1, ' ', false, json::error_handler_t::replace)));
  pending_id_ = id;
  return absl::OkStatus();
}

absl::StatusOr<json> DelveClient::Receive(absl::Duration timeout) {
  KDBG_ASSIGN_OR_RETURN(absl::string_view reply, ReceiveUnparsed(timeout));
  return ParseReply(reply);
}

absl::StatusOr<absl::string_view> DelveClient::ReceiveUnparsed(absl::Duration timeout) {
  if (pending_id_ == 0) return absl::FailedPreconditionError("no Delve call pending");
  return ReadReply(pending_id_, timeout);
}

namespace {

// A reply's "id". Go's jsonrpc codec writes it first, `{"id":12,"result":...`: read without
// parsing the reply; any other layout is parsed. kNotJson: not a JSON object; kNoId: no unsigned
// "id".
constexpr int64_t kNotJson = -1;
constexpr int64_t kNoId = -2;

// Consumes Go's jsonrpc codec's opening `{"id":N,` (N: 1-18 digits) from *rest and returns N;
// nullopt, leaving *rest as it was, for any other start.
std::optional<int64_t> ConsumeLeadingId(absl::string_view* rest) {
  absl::string_view r = *rest;
  if (!absl::ConsumePrefix(&r, "{\"id\":")) return std::nullopt;
  int64_t id = 0;
  size_t n = 0;
  while (n < r.size() && n < 18 && absl::ascii_isdigit(static_cast<unsigned char>(r[n]))) {
    id = id * 10 + (r[n] - '0');
    ++n;
  }
  if (n == 0 || n >= r.size() || r[n] != ',') return std::nullopt;
  *rest = r.substr(n + 1);
  return id;
}

int64_t ReplyId(absl::string_view msg) {
  absl::string_view rest = msg;
  if (std::optional<int64_t> id = ConsumeLeadingId(&rest)) return *id;
  json reply = json::parse(msg.begin(), msg.end(), nullptr, /*allow_exceptions=*/false);
  if (reply.is_discarded() || !reply.is_object()) return kNotJson;
  auto id = reply.find("id");
  if (id == reply.end() || !id->is_number_unsigned() ||
      id->get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) {
    return kNoId;
  }
  return static_cast<int64_t>(id->get<uint64_t>());
}

}  // namespace

absl::StatusOr<absl::string_view> DelveClient::ReadReply(uint64_t want_id, absl::Duration timeout) {
  while (true) {
    KDBG_ASSIGN_OR_RETURN(absl::string_view msg, conn_->ReadMessage(timeout));
    int64_t id = ReplyId(msg);
    // Not JSON: this call's (ParseReply says so); another id or none: a late reply to a call that
    // timed out earlier.
    if (id != kNotJson && id != static_cast<int64_t>(want_id)) continue;
    pending_id_ = 0;
    return msg;
  }
}

namespace {

// JSON text (RFC 8259) scanned without building anything, for WithoutStateMembers. Each returns
// the index just past what it skipped, or npos when the text ends first or breaks the grammar
// (brackets that do not match, a member without its ':').
constexpr size_t kBad = absl::string_view::npos;

size_t SkipSpace(absl::string_view t, size_t i) {
  while (i < t.size() && (t[i] == ' ' || t[i] == '\t' || t[i] == '\n' || t[i] == '\r')) ++i;
  return i;
}

// Characters the scans stop at: inside a string, '"' and '\\'; between strings, '"' and brackets.
// Every other byte is skipped by a table lookup (a stop's 4-60 KB are mostly string contents).
struct ScanTables {
  bool in_string[256] = {};
  bool structural[256] = {};
  constexpr ScanTables() {
    in_string[static_cast<unsigned char>('"')] = in_string[static_cast<unsigned char>('\\')] = true;
    for (char c : {'"', '{', '}', '[', ']'}) structural[static_cast<unsigned char>(c)] = true;
  }
};
constexpr ScanTables kScan;

// The string whose opening quote is t[i].
size_t SkipString(absl::string_view t, size_t i) {
  if (i >= t.size() || t[i] != '"') return kBad;
  const size_t n = t.size();
  for (++i; i < n; ++i) {
    while (i < n && !kScan.in_string[static_cast<unsigned char>(t[i])]) ++i;
    if (i >= n) break;
    if (t[i] == '\\') {
      ++i;  // the escaped character: \" and \\ never end or start anything
    } else {
      return i + 1;  // the closing '"'
    }
  }
  return kBad;
}

// The value that starts at t[i]: a string, an object or array with everything in it, or a
// number / true / false / null (up to the next delimiter).
size_t SkipValue(absl::string_view t, size_t i) {
  if (i >= t.size()) return kBad;
  if (t[i] == '"') return SkipString(t, i);
  if (t[i] != '{' && t[i] != '[') {
    const size_t end = t.find_first_of(",}] \t\n\r\"{[:", i);
    if (end == i) return kBad;
    return end == absl::string_view::npos ? t.size() : end;
  }
  std::string closers;  // the brackets still open, innermost last
  const size_t n = t.size();
  while (i < n) {
    while (i < n && !kScan.structural[static_cast<unsigned char>(t[i])]) ++i;
    if (i >= n) break;
    const char c = t[i];
    if (c == '"') {
      i = SkipString(t, i);
      if (i == kBad) return kBad;
      continue;
    }
    if (c == '{' || c == '[') {
      closers.push_back(c == '{' ? '}' : ']');
    } else {
      if (closers.empty() || closers.back() != c) return kBad;
      closers.pop_back();
      if (closers.empty()) return i + 1;
    }
    ++i;
  }
  return kBad;
}

// Visits the members of the object whose '{' is t[open]: `member(key, member_start, value_start)`
// scans one member's value and returns the index just past it (kBad to stop). Returns the index of
// the object's '}', or kBad when the text breaks the grammar or `member` stopped.
template <typename MemberFn>
size_t ScanMembers(absl::string_view t, size_t open, MemberFn&& member) {
  size_t i = SkipSpace(t, open + 1);
  if (i < t.size() && t[i] == '}') return i;
  while (true) {
    const size_t start = i;
    const size_t key_end = SkipString(t, i);
    if (key_end == kBad) return kBad;
    const absl::string_view key = t.substr(start + 1, key_end - start - 2);
    i = SkipSpace(t, key_end);
    if (i >= t.size() || t[i] != ':') return kBad;
    const size_t value_end = member(key, start, SkipSpace(t, i + 1));
    if (value_end == kBad) return kBad;
    i = SkipSpace(t, value_end);
    if (i >= t.size()) return kBad;
    if (t[i] == '}') return i;
    if (t[i] != ',') return kBad;
    i = SkipSpace(t, i + 1);
  }
}

// Scans the array that opens at t[i], Delve's api.State.Threads, e.g.
//   [{"id":25806,...,"breakPoint":{"id":1,...},"breakPointInfo":{...}},{"id":25801,...}]
// and appends to `*out` the array of its elements that are objects whose "breakPoint" member (the
// last, as nlohmann keeps the last of duplicate keys) is an object: the threads stopped at a
// breakpoint (Delve omits an idle thread's "breakPoint"). `*dropped`: some element was left out.
// Returns the index past the array's ']'; kBad when the text breaks the grammar, or a key in an
// element is written with an escape (the parse would decode it; this scan compares raw text).
size_t ThreadsAtBreakpoints(absl::string_view t, size_t i, std::string* out, bool* dropped) {
  i = SkipSpace(t, i + 1);  // past the '['
  if (i < t.size() && t[i] == ']') {
    out->append("[]");
    return i + 1;
  }
  out->push_back('[');
  bool first = true;
  while (true) {
    const size_t element = i;
    size_t end = kBad;
    bool at_breakpoint = false;
    if (element < t.size() && t[element] == '{') {
      const size_t close =
          ScanMembers(t, element, [&](absl::string_view key, size_t, size_t value) -> size_t {
            if (absl::StrContains(key, '\\')) return kBad;
            const size_t value_end = SkipValue(t, value);
            if (value_end != kBad && key == "breakPoint") at_breakpoint = t[value] == '{';
            return value_end;
          });
      if (close == kBad) return kBad;
      end = close + 1;
    } else {
      end = SkipValue(t, element);
      if (end == kBad) return kBad;
    }
    if (at_breakpoint) {
      if (!first) out->push_back(',');
      first = false;
      out->append(t.data() + element, end - element);
    } else {
      *dropped = true;
    }
    i = SkipSpace(t, end);
    if (i >= t.size()) return kBad;
    if (t[i] == ']') break;
    if (t[i] != ',') return kBad;
    i = SkipSpace(t, i + 1);
  }
  out->push_back(']');
  return i + 1;
}

}  // namespace

std::optional<std::string> DelveClient::WithoutStateMembers(
    absl::string_view t, std::initializer_list<absl::string_view> names,
    bool only_threads_at_breakpoints) {
  // Go's jsonrpc codec: {"id":12,"result":{"State":{...}},"error":null}
  absl::string_view rest = t;
  if (!ConsumeLeadingId(&rest).has_value()) return std::nullopt;
  if (!absl::ConsumePrefix(&rest, "\"result\":{\"State\":{")) return std::nullopt;
  const size_t open = t.size() - rest.size() - 1;  // the State's '{'
  std::vector<absl::string_view> kept;
  std::deque<std::string> rewritten;  // members rebuilt here (Threads), `kept` points into them
  bool cut = false;
  const size_t close =
      ScanMembers(t, open, [&](absl::string_view key, size_t member, size_t value) -> size_t {
        bool drop = false;
        for (absl::string_view n : names) drop = drop || key == n;
        if (!drop && only_threads_at_breakpoints && key == "Threads" && value < t.size() &&
            t[value] == '[') {
          std::string threads(t.substr(member, value - member));  // `"Threads":`
          bool dropped = false;
          const size_t value_end = ThreadsAtBreakpoints(t, value, &threads, &dropped);
          if (value_end == kBad) return kBad;
          if (dropped) {
            cut = true;
            rewritten.push_back(std::move(threads));
            kept.push_back(rewritten.back());
          } else {
            kept.push_back(t.substr(member, value_end - member));
          }
          return value_end;
        }
        const size_t value_end = SkipValue(t, value);
        if (value_end == kBad) return kBad;
        if (drop) {
          cut = true;
        } else {
          kept.push_back(t.substr(member, value_end - member));
        }
        return value_end;
      });
  if (close == kBad || !cut) return std::nullopt;
  std::string out(t.substr(0, open + 1));
  out.reserve(t.size());
  for (size_t k = 0; k < kept.size(); ++k) {
    if (k > 0) out.push_back(',');
    out.append(kept[k].data(), kept[k].size());
  }
  out.append(t.data() + close, t.size() - close);
  return out;
}

absl::StatusOr<json> DelveClient::ParseStopReply(absl::string_view reply_text) {
  std::optional<std::string> cut = WithoutStateMembers(
      reply_text, {"currentThread", "currentGoroutine"}, /*only_threads_at_breakpoints=*/true);
  return ParseReply(cut.has_value() ? absl::string_view(*cut) : reply_text);
}

absl::StatusOr<json> DelveClient::ParseReply(absl::string_view reply_text) {
  // A plain parse. nlohmann's callback parser, which could drop `currentThread` while parsing, took
  // 1.3-1.6x as long as building all of it: ~300 against ~200 us for a real 7.3 KB stop (Delve
  // 1.27, the optimized sample at main.go:10; the thread at the breakpoint alone is 2.6 KB, its
  // copy in `currentThread` 2.9 KB; idle threads, ~260 bytes each, carry no "breakPoint" at all).
  // ParseStopReply cuts those copies from the text instead, before this parse.
  json reply =
      json::parse(reply_text.begin(), reply_text.end(), nullptr, /*allow_exceptions=*/false);
  if (reply.is_discarded() || !reply.is_object()) {
    return absl::InternalError(
        absl::StrCat("Delve sent a reply that is not JSON: ", reply_text.substr(0, 200)));
  }
  auto err = reply.find("error");
  if (err != reply.end() && err->is_string()) {
    return absl::UnknownError(err->get<std::string>());
  }
  if (err != reply.end() && !err->is_null()) {  // another shape than Delve's string: keep it
    return absl::UnknownError(err->dump(-1, ' ', false, json::error_handler_t::replace));
  }
  auto res = reply.find("result");
  if (res == reply.end()) return json::object();
  return std::move(*res);
}

absl::StatusOr<json> DelveClient::Call(const std::string& method, json params,
                                       absl::Duration timeout) {
  pending_id_ = 0;  // a reply still owed from an earlier timed-out call is skipped by id
  KDBG_RETURN_IF_ERROR(Send(method, std::move(params)));
  // An Interrupt() is meant for the continue loop's Receive, not for synchronous calls.
  absl::StatusOr<json> r = Receive(timeout);
  while (!r.ok() && absl::IsCancelled(r.status())) r = Receive(timeout);
  if (!r.ok() && absl::IsDeadlineExceeded(r.status())) {
    pending_id_ = 0;
    return absl::DeadlineExceededError(
        absl::StrCat("Delve did not answer ", method, " within ", absl::FormatDuration(timeout)));
  }
  return r;
}

const json& DelveClient::StopState(const json& reply) {
  return reply.contains("State") ? reply["State"] : reply;
}

bool DelveClient::AtBreakpoint(const json& thread) {
  return jsonx::Obj(thread, "breakPoint").is_object();
}

absl::StatusOr<json> DelveClient::State(bool non_blocking, absl::Duration timeout) {
  KDBG_ASSIGN_OR_RETURN(json r, Call("RPCServer.State", {{"NonBlocking", non_blocking}}, timeout));
  auto st = r.is_object() ? r.find("State") : r.end();
  if (st == r.end() || !st->is_object()) {
    return absl::InternalError("Delve's State reply has no State object");
  }
  return std::move(*st);
}

absl::StatusOr<std::vector<Location>> DelveClient::FindLocation(const std::string& loc,
                                                                absl::Duration timeout) {
  KDBG_ASSIGN_OR_RETURN(json r,
                        Call("RPCServer.FindLocation",
                             {{"Scope", {{"GoroutineID", -1}, {"Frame", 0}, {"DeferredCall", 0}}},
                              {"Loc", loc},
                              {"IncludeNonExecutableLines", false}},
                             timeout));
  std::vector<Location> out;
  for (const json& l : jsonx::Arr(r, "Locations")) {
    Location x;
    x.file = jsonx::Str(l, "file");
    x.line = static_cast<int>(jsonx::Int(l, "line"));
    x.function = jsonx::Str(jsonx::Obj(l, "function"), "name");
    for (const json& pc : jsonx::Arr(l, "pcs")) {
      if (uint64_t v = jsonx::UintValue(pc); v != 0) x.pcs.push_back(v);
    }
    if (x.pcs.empty()) {
      if (uint64_t v = jsonx::Uint(l, "pc"); v != 0) x.pcs.push_back(v);
    }
    if (x.pcs.empty()) continue;  // nothing to break on
    out.push_back(std::move(x));
  }
  if (out.empty()) return absl::NotFoundError(absl::StrCat("location \"", loc, "\" not found"));
  return out;
}

json BreakpointToJson(const BreakpointRequest& bp) {
  json j = {{"name", bp.name}, {"continue", bp.tracepoint}};
  if (!bp.addrs.empty()) {
    // The addresses alone, as dlv's own `trace` and `break` send FindLocation's PCs: Delve's
    // CreateBreakpoint takes a file first, then a function name, and only then the addresses
    // (service/debugger/debugger.go), and a file:line re-resolves to every address of that line,
    // which for a function the compiler inlined is not where each inlined call begins.
    j["addrs"] = bp.addrs;
    j["addr"] = bp.addrs.front();
  } else {
    j["file"] = bp.file;
    j["line"] = bp.line;
    if (!bp.function.empty()) j["functionName"] = bp.function;
  }
  if (!bp.variables.empty()) j["variables"] = bp.variables;
  if (bp.load_args) {
    // dlv trace's ShortLoadConfig plus one level of pointers: enough for r.RemoteAddr-style values
    // without loading whole object graphs at every hit.
    j["LoadArgs"] = {{"FollowPointers", false},
                     {"MaxVariableRecurse", 1},
                     {"MaxStringLen", 64},
                     {"MaxArrayValues", 16},
                     {"MaxStructFields", 3}};
  }
  if (bp.stacktrace > 0) j["stacktrace"] = bp.stacktrace;
  if (!bp.cond.empty()) j["Cond"] = bp.cond;
  if (!bp.hit_cond.empty()) j["HitCond"] = bp.hit_cond;
  return j;
}

absl::StatusOr<json> DelveClient::CreateBreakpoint(const BreakpointRequest& bp,
                                                   absl::Duration timeout) {
  KDBG_ASSIGN_OR_RETURN(
      json r, Call("RPCServer.CreateBreakpoint", {{"Breakpoint", BreakpointToJson(bp)}}, timeout));
  auto created = r.is_object() ? r.find("Breakpoint") : r.end();
  if (created == r.end() || !created->is_object()) {
    return absl::InternalError("CreateBreakpoint: no Breakpoint object in Delve's reply");
  }
  return std::move(*created);
}

absl::Status DelveClient::ClearBreakpoint(int id, absl::Duration timeout) {
  return Call("RPCServer.ClearBreakpoint", {{"Id", id}}, timeout).status();
}

absl::Status DelveClient::ClearBreakpointByName(const std::string& name, absl::Duration timeout) {
  return Call("RPCServer.ClearBreakpoint", {{"Id", 0}, {"Name", name}}, timeout).status();
}

absl::StatusOr<json> DelveClient::ListBreakpoints(absl::Duration timeout) {
  KDBG_ASSIGN_OR_RETURN(json r, Call("RPCServer.ListBreakpoints", {{"All", true}}, timeout));
  return jsonx::Arr(r, "Breakpoints");
}

absl::StatusOr<json> DelveClient::ListLogicalBreakpoints(absl::Duration timeout) {
  KDBG_ASSIGN_OR_RETURN(json r, Call("RPCServer.ListBreakpoints", {{"All", false}}, timeout));
  return jsonx::Arr(r, "Breakpoints");
}

absl::Status DelveClient::Detach(absl::Duration timeout) {
  return Call("RPCServer.Detach", {{"Kill", false}}, timeout).status();
}

absl::StatusOr<std::unique_ptr<DelveClient>> DialReady(RpcDialer& dialer,
                                                       const std::string& address,
                                                       absl::Duration timeout,
                                                       const std::function<bool()>& still_alive) {
  absl::Time deadline = MonotonicNow() + timeout;
  absl::Status last = absl::UnavailableError("not tried");
  int attempts = 0;
  while (true) {
    ++attempts;
    auto conn = dialer.Dial(address);
    if (conn.ok()) {
      auto client = std::make_unique<DelveClient>(std::move(*conn));
      auto st = client->State(/*non_blocking=*/true,
                              std::max(deadline - MonotonicNow(), absl::Milliseconds(1)));
      if (st.ok()) return client;
      last = st.status();
      if (!absl::IsUnavailable(last)) return last;
    } else {
      last = conn.status();
      if (absl::IsInvalidArgument(last)) return last;
    }
    if (still_alive && !still_alive()) return absl::UnavailableError("Delve exited");
    if (MonotonicNow() >= deadline) {
      return absl::UnavailableError(absl::StrCat("Delve at ", address, " did not answer within ",
                                                 absl::FormatDuration(timeout), " (", attempts,
                                                 " attempts; last: ", last.message(), ")"));
    }
    absl::SleepFor(absl::Milliseconds(2));  // start-up only, never in the continue loop
  }
}

}  // namespace kdbg::delve
