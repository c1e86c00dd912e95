#include "agent/delve/hit_format.h"

#include "gtest/gtest.h"

namespace kdbg::delve {
namespace {

using nlohmann::json;

TEST(FormatVariableTest, Scalars) {
  EXPECT_EQ(
      FormatVariable({{"kind", 24}, {"type", "string"}, {"value", "127.0.0.1:53422"}, {"len", 15}}),
      "\"127.0.0.1:53422\"");
  EXPECT_EQ(FormatVariable({{"kind", 24}, {"value", "a\"b\n"}, {"len", 4}}), "\"a\\\"b\\n\"");
  EXPECT_EQ(FormatVariable({{"kind", 24}, {"value", "abc"}, {"len", 10}}), "\"abc\"...+7 more");
  EXPECT_EQ(FormatVariable({{"kind", 2}, {"type", "int"}, {"value", "42"}}), "42");
  EXPECT_EQ(FormatVariable({{"kind", 1}, {"value", "true"}}), "true");
  EXPECT_EQ(FormatVariable({{"kind", 24}, {"unreadable", "could not read"}}),
            "(unreadable could not read)");
}

TEST(FormatVariableTest, Composites) {
  json st = {{"kind", 25},
             {"type", "main.T"},
             {"len", 3},
             {"children",
              {{{"name", "A"}, {"kind", 2}, {"value", "1"}},
               {{"name", "B"}, {"kind", 24}, {"value", "x"}, {"len", 1}}}}};
  EXPECT_EQ(FormatVariable(st), "main.T {A: 1, B: \"x\", ...+1 more}");
  json ptr = {{"kind", 22}, {"type", "*main.T"}, {"children", {st}}};
  EXPECT_EQ(FormatVariable(ptr), "*main.T {A: 1, B: \"x\", ...+1 more}");
  json nilptr = {{"kind", 22}, {"type", "*main.T"}, {"children", {{{"kind", 0}, {"addr", 0}}}}};
  EXPECT_EQ(FormatVariable(nilptr), "nil");
  json slice = {{"kind", 23},
                {"type", "[]int"},
                {"len", 2},
                {"cap", 4},
                {"children", {{{"kind", 2}, {"value", "1"}}, {{"kind", 2}, {"value", "2"}}}}};
  EXPECT_EQ(FormatVariable(slice), "[]int len: 2, cap: 4, [1, 2]");
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

}  // namespace
}  // namespace kdbg::delve
