#include "agent/delve/hit_format.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "agent/delve/json_access.h"
#include "gtest/gtest.h"

namespace kdbg::delve {
namespace {

using nlohmann::json;

// `j` (an object, as Delve sends a value) as an ApiVariable: the same fields, read as
// FormatVariable reads the JSON (json_access.h); its strings view `j`'s.
ApiVariable FromJson(const json& j) {
  auto view = [&](const char* key) -> absl::string_view {
    const json* v = jsonx::Find(j, key);
    return v != nullptr && v->is_string() ? absl::string_view(v->get_ref<const std::string&>())
                                          : absl::string_view();
  };
  ApiVariable v;
  v.name = view("name");
  v.type = view("type");
  v.kind = gobinary::GoKindFromNumber(jsonx::Int(j, "kind"));
  v.value = jsonx::Str(j, "value");
  v.len = jsonx::Int(j, "len");
  v.cap = jsonx::Int(j, "cap");
  v.base = jsonx::Uint(j, "base");
  if (j.contains("addr")) v.addr = jsonx::Uint(j, "addr");
  v.only_addr = jsonx::Bool(j, "onlyAddr");
  v.unreadable = jsonx::Str(j, "unreadable");
  for (const json& c : jsonx::Arr(j, "children")) v.children.push_back(FromJson(c));
  return v;
}

// FormatVariable of `j`, checked to be the same text from its ApiVariable (the eBPF engine's way
// in): a difference is returned instead, so the caller's expectation fails showing both.
std::string Format(const json& j) {
  std::string from_json = FormatVariable(j);
  std::string from_api = FormatVariable(FromJson(j));
  if (from_json != from_api) return absl::StrCat("JSON: ", from_json, " ApiVariable: ", from_api);
  return from_json;
}

// Go's strconv-style quoting as Delve prints a string: every escape, control bytes as \xNN
// (lower-case hex, 0x7f too), UTF-8 and printable ASCII as they are, runs between escapes kept.
TEST(QuoteGoStringTest, EscapesAsDelvePrints) {
  EXPECT_EQ(QuoteGoString(""), "\"\"");
  EXPECT_EQ(QuoteGoString("127.0.0.1:53422"), "\"127.0.0.1:53422\"");
  EXPECT_EQ(QuoteGoString("say \"hi\"\\now"), "\"say \\\"hi\\\"\\\\now\"");
  EXPECT_EQ(QuoteGoString("a\nb\tc\rd"), "\"a\\nb\\tc\\rd\"");
  EXPECT_EQ(QuoteGoString(std::string("\x00\x01\x1f\x7f", 4)), "\"\\x00\\x01\\x1f\\x7f\"");
  EXPECT_EQ(QuoteGoString("h\xc3\xa9llo \xe2\x9c\x93"), "\"h\xc3\xa9llo \xe2\x9c\x93\"");
  EXPECT_EQ(QuoteGoString("\"x"), "\"\\\"x\"");
  EXPECT_EQ(QuoteGoString("x\n"), "\"x\\n\"");
}

TEST(FormatVariableTest, Scalars) {
  EXPECT_EQ(Format({{"kind", 24}, {"type", "string"}, {"value", "127.0.0.1:53422"}, {"len", 15}}),
            "\"127.0.0.1:53422\"");
  EXPECT_EQ(Format({{"kind", 24}, {"value", "a\"b\n"}, {"len", 4}}), "\"a\\\"b\\n\"");
  EXPECT_EQ(Format({{"kind", 24}, {"value", "abc"}, {"len", 10}}), "\"abc\"...+7 more");
  EXPECT_EQ(Format({{"kind", 2}, {"type", "int"}, {"value", "42"}}), "42");
  EXPECT_EQ(Format({{"kind", 1}, {"value", "true"}}), "true");
  EXPECT_EQ(Format({{"kind", 24}, {"unreadable", "could not read"}}),
            "(unreadable could not read)");
}

TEST(FormatVariableTest, Composites) {
  json st = {{"kind", 25},
             {"type", "main.T"},
             {"len", 3},
             {"children",
              {{{"name", "A"}, {"kind", 2}, {"value", "1"}},
               {{"name", "B"}, {"kind", 24}, {"value", "x"}, {"len", 1}}}}};
  EXPECT_EQ(Format(st), "main.T {A: 1, B: \"x\", ...+1 more}");
  json ptr = {{"kind", 22}, {"type", "*main.T"}, {"children", {st}}};
  EXPECT_EQ(Format(ptr), "*main.T {A: 1, B: \"x\", ...+1 more}");
  // A nil pointer: Delve's target at address 0, of the pointer's element kind, never loaded;
  // followed or not (an argument's, onlyAddr), and inside a loaded value.
  json nilptr = {{"kind", 22},
                 {"type", "*main.T"},
                 {"children", {{{"kind", 25}, {"type", "main.T"}, {"addr", 0}}}}};
  EXPECT_EQ(Format(nilptr), "nil");
  nilptr["children"][0]["onlyAddr"] = true;
  EXPECT_EQ(Format(nilptr), "nil");
  json holder = {{"kind", 25}, {"type", "main.H"}, {"len", 1}, {"children", {nilptr}}};
  holder["children"][0]["name"] = "Next";
  EXPECT_EQ(Format(holder), "main.H {Next: nil}");
  // In an interface, with its type; an unreadable target at address 0 is no nil.
  json iface = {{"kind", 20}, {"type", "error"}, {"children", {nilptr}}};
  EXPECT_EQ(Format(iface), "error((*main.T)(nil))");
  // Past MaxVariableRecurse its data is OnlyAddr, never loaded (no target): its type only.
  json unloaded = {{"kind", 20},
                   {"type", "error"},
                   {"children",
                    {{{"name", "data"},
                      {"kind", 22},
                      {"type", "*main.T"},
                      {"addr", 0xc000010000},
                      {"onlyAddr", true}}}}};
  EXPECT_EQ(Format(unloaded), "error(*main.T ...)");
  unloaded["children"][0]["kind"] = 25;
  unloaded["children"][0]["type"] = "main.S";
  unloaded["children"][0]["len"] = 2;
  EXPECT_EQ(Format(unloaded), "error(main.S ...)");
  json bad = nilptr;
  bad["children"][0]["unreadable"] = "could not read";
  bad["children"][0].erase("onlyAddr");
  EXPECT_EQ(Format(bad), "*(unreadable could not read)");
  json slice = {{"kind", 23},
                {"type", "[]int"},
                {"len", 2},
                {"cap", 4},
                {"children", {{{"kind", 2}, {"value", "1"}}, {{"kind", 2}, {"value", "2"}}}}};
  EXPECT_EQ(Format(slice), "[]int len: 2, cap: 4, [1, 2]");
}

TEST(BuildHitTest, FromAContinueReplyThread) {
  json th = json::parse(R"({"id":4242,"pc":7012345,"file":"/src/hello/main.go","line":10,
    "function":{"name":"main.handleSlash"},"goroutineID":35,
    "breakPoint":{"id":1,"name":"handleSlash","continue":true},
    "breakPointInfo":{
      "arguments":[{"name":"w","type":"net/http.ResponseWriter","kind":20,"children":[]}],
      "variables":[{"name":"r.RemoteAddr","type":"string","kind":24,"value":"127.0.0.1:53422","len":15}],
      "stacktrace":[{"pc":1,"file":"/src/hello/main.go","line":10,"function":{"name":"main.handleSlash"}},
                    {"pc":2,"file":"/usr/lib/go/src/net/http/server.go","line":2109,"function":{"name":"net/http.HandlerFunc.ServeHTTP"}}]}})");
  v1::HitEvent hit = BuildHit(th, "handleSlash", 7);
  EXPECT_EQ(hit.tracepoint(), "handleSlash");
  EXPECT_EQ(hit.goroutine(), 35);
  EXPECT_EQ(hit.function(), "main.handleSlash");
  EXPECT_EQ(hit.file(), "/src/hello/main.go");
  EXPECT_EQ(hit.line(), 10);
  EXPECT_EQ(hit.hit_count(), 7);
  ASSERT_EQ(hit.args_size(), 1);
  EXPECT_EQ(hit.args(0).value(), "net/http.ResponseWriter nil");
  ASSERT_EQ(hit.vars_size(), 1);
  EXPECT_EQ(hit.vars(0).name(), "r.RemoteAddr");
  EXPECT_EQ(hit.vars(0).value(), "\"127.0.0.1:53422\"");
  ASSERT_EQ(hit.stack_size(), 2);
  EXPECT_EQ(hit.stack(1).function(), "net/http.HandlerFunc.ServeHTTP");
  EXPECT_EQ(hit.stack(1).line(), 2109);
}

// Delve's api.Variable of a map (service/api/prettyprint.go writeMapTo): `base` 0 is a nil map;
// children are keys and elements in turn; fewer entries than `len` end in what is left.
TEST(FormatVariableTest, Maps) {
  auto entry = [](const std::string& key, int value) {
    return json::array({{{"kind", 24}, {"type", "string"}, {"value", key}, {"len", key.size()}},
                        {{"kind", 2}, {"type", "int"}, {"value", std::to_string(value)}}});
  };
  json m = {{"kind", 21}, {"type", "map[string]int"}, {"base", 0xc000010000}, {"len", 2}};
  m["children"] = entry("a", 1);
  for (const json& c : entry("b", 2)) m["children"].push_back(c);
  EXPECT_EQ(Format(m), "map[string]int [\"a\": 1, \"b\": 2]");
  m["len"] = 5;
  EXPECT_EQ(Format(m), "map[string]int [\"a\": 1, \"b\": 2, ...+3 more]");
  m["children"] = json::array();  // past the recursion level Delve loads: its length only
  EXPECT_EQ(Format(m), "map[string]int [...]");
  m["len"] = 0;
  EXPECT_EQ(Format(m), "map[string]int []");
  m["base"] = 0;
  EXPECT_EQ(Format(m), "map[string]int nil");
}

TEST(FormatVariableTest, OptimizedOutAndReturnValues) {
  // Delve's words for "no value at this PC": an empty location expression, no loclist entry.
  EXPECT_EQ(Format({{"kind", 22}, {"unreadable", "empty OP stack"}}), "<optimized out>");
  EXPECT_EQ(Format({{"kind", 22},
                    {"unreadable",
                     "could not find loclist entry at 0x2f68a for address "
                     "0x621711"}}),
            "<optimized out>");
  json th = json::parse(R"({"function":{"name":"main.f","optimized":true},
    "breakPointInfo":{"arguments":[{"name":"n","kind":2,"value":"7","flags":40},
      {"name":"~r0","kind":2,"value":"","unreadable":"empty OP stack","flags":16}]}})");
  v1::HitEvent hit = BuildHit(th, "f", 1);
  ASSERT_EQ(hit.args_size(), 1);  // the result is left out at entry
  EXPECT_EQ(hit.args(0).name(), "n");
}

TEST(FormatVariableTest, HostileValuesNeverThrow) {
  // Every field of another type than Delve 1.20-1.27 sends.
  json v = json::parse(R"({"kind":"string","type":7,"value":{"a":1},"len":"3","cap":[1],
    "unreadable":false,"children":"none"})");
  EXPECT_NO_THROW(FormatVariable(v));
  json kids = json::parse(R"({"kind":25,"type":"T","len":2,
    "children":[5,"x",null,{"name":3,"kind":2,"value":"1"}]})");
  EXPECT_NO_THROW(FormatVariable(kids));
  json ptr = json::parse(R"({"kind":22,"type":"*T","children":[{"addr":"0x1","kind":"x",
    "onlyAddr":"yes"}]})");
  EXPECT_NO_THROW(FormatVariable(ptr));
  json map = json::parse(R"({"kind":21,"type":"map[string]int","len":-5,"children":[1]})");
  EXPECT_NO_THROW(FormatVariable(map));
  EXPECT_EQ(FormatVariable(json("just a string")), "");
  EXPECT_EQ(FormatVariable(json::array()), "");
}

TEST(BuildHitTest, HostileThreadNeverThrows) {
  json th = json::parse(R"({"goroutineID":"35","line":"ten","file":["x"],
    "function":"main.handleSlash",
    "breakPointInfo":{"arguments":{"w":1},"variables":[1,"x",{"name":["r"],"kind":24}],
      "stacktrace":"deep","goroutine":[]},"newTopLevelField":{"a":[1,2,3]}})");
  v1::HitEvent hit;
  EXPECT_NO_THROW(hit = BuildHit(th, "handleSlash", 1));
  EXPECT_EQ(hit.goroutine(), 0);
  EXPECT_EQ(hit.line(), 0);
  EXPECT_EQ(hit.function(), "");
  EXPECT_EQ(hit.args_size(), 0);
  EXPECT_EQ(hit.vars_size(), 3);
  EXPECT_EQ(hit.stack_size(), 0);
  EXPECT_NO_THROW(BuildHit(json(nullptr), "x", 1));
  EXPECT_NO_THROW(BuildHit(json::array({1, 2}), "x", 1));
}

TEST(MarkOptimizedOutTest, KnownNameMissingAtAnotherPcOfAnOptimizedFunction) {
  std::set<std::string> known;
  v1::HitEvent first;
  first.add_args()->set_name("x");
  auto* seen = first.add_vars();
  seen->set_name("x");
  seen->set_value("7");
  MarkOptimizedOut(true, &known, {}, &first);
  EXPECT_EQ(first.vars(0).value(), "7");
  v1::HitEvent second;  // the second inlined call site: Delve cannot find x
  auto* lost = second.add_vars();
  lost->set_name("x");
  lost->set_value("(unreadable eval error: could not find symbol value for x)");
  auto* typo = second.add_vars();
  typo->set_name("y");
  typo->set_value("(unreadable eval error: could not find symbol value for y)");
  v1::HitEvent not_optimized = second;
  MarkOptimizedOut(true, &known, {}, &second);
  EXPECT_EQ(second.vars(0).value(), "<optimized out>");
  // Never seen: a typo or a name that does not exist keeps Delve's reason.
  EXPECT_EQ(second.vars(1).value(), "(unreadable eval error: could not find symbol value for y)");
  MarkOptimizedOut(false, &known, {}, &not_optimized);
  EXPECT_EQ(not_optimized.vars(0).value(),
            "(unreadable eval error: could not find symbol value for x)");
}

TEST(MarkOptimizedOutTest, NameTheTracedFunctionDeclaresIsOptimizedOutAtItsFirstHit) {
  // The first inlined copy of a closure (main.handleValues.func1 inlined into handleValues): Go
  // writes no DWARF for it, so Delve finds no `k` there, although func1 declares it.
  auto declared = [](const std::string& n) { return n == "k"; };
  std::set<std::string> known;
  v1::HitEvent hit;
  for (const char* name : {"k", "k.field", "missing"}) {
    auto* v = hit.add_vars();
    v->set_name(name);
    v->set_value(absl::StrCat("(unreadable eval error: could not find symbol value for ",
                              RootIdentifier(name), ")"));
  }
  auto* other = hit.add_vars();  // another failure of a declared name keeps its reason
  other->set_name("k");
  other->set_value("(unreadable read out of bounds)");
  v1::HitEvent unoptimized = hit;
  MarkOptimizedOut(true, &known, declared, &hit);
  EXPECT_EQ(hit.vars(0).value(), "<optimized out>");
  EXPECT_EQ(hit.vars(1).value(), "<optimized out>");
  EXPECT_EQ(hit.vars(2).value(),
            "(unreadable eval error: could not find symbol value for missing)");
  EXPECT_EQ(hit.vars(3).value(), "(unreadable read out of bounds)");
  MarkOptimizedOut(false, &known, declared, &unoptimized);
  EXPECT_EQ(unoptimized.vars(0).value(),
            "(unreadable eval error: could not find symbol value for k)");
}

TEST(MarkOptimizedOutTest, KnownRootOfAFieldChain) {
  std::set<std::string> known;
  v1::HitEvent first;
  auto* v = first.add_vars();
  v->set_name("r.RemoteAddr");
  v->set_value("\"127.0.0.1:1\"");
  MarkOptimizedOut(true, &known, {}, &first);
  v1::HitEvent second;
  v = second.add_vars();
  v->set_name("r.RemoteAddr");
  v->set_value("(unreadable eval error: could not find symbol value for r)");
  MarkOptimizedOut(true, &known, {}, &second);
  EXPECT_EQ(second.vars(0).value(), "<optimized out>");
}

TEST(RootIdentifierTest, LeadingIdentifierOnly) {
  EXPECT_EQ(RootIdentifier("r.RemoteAddr"), "r");
  EXPECT_EQ(RootIdentifier("xs[1]"), "xs");
  EXPECT_EQ(RootIdentifier("_x9"), "_x9");
  EXPECT_EQ(RootIdentifier("k"), "k");
  EXPECT_EQ(RootIdentifier("*p"), "");
  EXPECT_EQ(RootIdentifier("9x"), "");
  EXPECT_EQ(RootIdentifier(""), "");
}

}  // namespace
}  // namespace kdbg::delve
