// Turns Delve's JSON (service/api/types.go, API v2) into kdbg events.
//
// A thread stopped at a tracepoint, as RPCServer.Command {"Name":"continue"} returns it in
// State.Threads[] (trimmed):
//   {"id":4242,"pc":7012345,"file":"/src/hello/main.go","line":10,
//    "function":{"name":"main.handleSlash",...},"goroutineID":35,
//    "breakPoint":{"id":1,"name":"handleSlash","continue":true,...},
//    "breakPointInfo":{"arguments":[{"name":"w","type":"net/http.ResponseWriter","kind":20,...}],
//                      "variables":[{"name":"r.RemoteAddr","type":"string","kind":24,
//                                    "value":"127.0.0.1:53422","len":15,...}],
//                      "stacktrace":[{"pc":..,"file":..,"line":..,"function":{"name":..}}]}}
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "agent/gobinary/go_kind.h"

#include "kdbg/v1/types.pb.h"
#include "nlohmann/json.hpp"

namespace kdbg::delve {

// What is printed for a value optimized code does not keep at the hit's PC.
inline constexpr char kOptimizedOut[] = "<optimized out>";

// One line, close to `dlv print`: strings quoted ("\"127.0.0.1:53422\""), numbers as is,
// structs as `T {a: 1, b: "x"}`, pointers as `*T {...}` or `nil`, slices as `[]T len: 2, cap: 4,
// [1,2]`, unreadable values as `(unreadable <why>)`, except Delve's "empty OP stack" and "could not
// find loclist entry" (no value at this PC in optimized code): `<optimized out>`. Nested values are
// cut at depth kFormatDepth.
std::string FormatVariable(const nlohmann::json& v);

// The fields of Delve's api.Variable that FormatVariable reads, for a caller that builds a value
// without JSON (the eBPF engine, from its record: agent/ebpf/plan.cc). `name` and `type` view
// strings that outlive the call; `addr` is present where Delve's JSON has "addr" (a pointer's
// target: at 0 with no value, a nil pointer's).
struct ApiVariable {
  absl::string_view name;
  absl::string_view type;
  gobinary::GoKind kind = gobinary::GoKind::kInvalid;
  std::string value;  // a string's bytes, a number's text
  int64_t len = 0;
  int64_t cap = 0;
  uint64_t base = 0;  // a map's header (0: a nil map)
  std::optional<uint64_t> addr;
  bool only_addr = false;  // a target not loaded, shown by its address (or type)
  std::string unreadable;
  std::vector<ApiVariable> children;
};

// The same text as FormatVariable of the JSON with these fields.
std::string FormatVariable(const ApiVariable& v);

// How deep FormatVariable goes: a value nested deeper (the value itself is at depth 0, a field or
// a pointer's target one deeper than what holds it) prints as its type and `{...}`, a string in
// full ("*main.node {...}", "\"leaf\"").
inline constexpr int kFormatDepth = 3;

// A Go string as Delve prints it: double-quoted, with \" \\ \n \t \r escaped and other control
// bytes as \xNN; UTF-8 passes through. The eBPF engine formats its strings with this too, so both
// engines print the same bytes the same way.
std::string QuoteGoString(absl::string_view s);

// The HitEvent for one thread at a breakpoint. `tracepoint` is kdbg's name for it. Arguments that
// are results (flag VariableReturnArgument) are left out: at entry they hold nothing yet.
kdbg::v1::HitEvent BuildHit(const nlohmann::json& thread, const std::string& tracepoint,
                            int64_t hit_count);

// Optimized code: a printed expression whose root identifier (`k` of `k`, `r` of `r.RemoteAddr`)
// Delve "could not find" at this hit ("(unreadable eval error: could not find symbol value for
// k)") is printed as <optimized out> when the compiler kept no value at this PC, which is so when
// the name is
//   - declared by the traced function (`declared(name)`: its parameters, from DWARF): the first
//     inlined copy of a closure, where Go writes no DWARF for the inlined body, or
//   - known: it had a value at an earlier hit of the same tracepoint (`known`, updated here with
//     every name that has one now; a second inlined call site, a register reused).
// `optimized` is Delve's function.optimized; `declared` may be empty (no DWARF at hand) and is
// asked only for a missing, unknown name. Anything else Delve could not evaluate (a typo, a name
// the function does not have) keeps its reason.
void MarkOptimizedOut(bool optimized, std::set<std::string>* known,
                      const std::function<bool(const std::string&)>& declared,
                      kdbg::v1::HitEvent* hit);

// The identifier an expression starts with ("r" for "r.RemoteAddr", "xs" for "xs[1]"); empty if
// it starts with anything else ("*p", "len(s)").
std::string RootIdentifier(absl::string_view expression);

}  // namespace kdbg::delve
