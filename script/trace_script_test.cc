#include "script/trace_script.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kdbg::script {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(TraceScriptTest, TheStarterScript) {
  auto s = ParseTraceScript(
      "trace handleSlash main.go:10\non handleSlash print r.RemoteAddr\ncontinue\n", "trace.dlv");
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_EQ(s->breakpoints.size(), 1u);
  const ScriptBreakpoint& bp = s->breakpoints[0];
  EXPECT_EQ(bp.name, "handleSlash");
  EXPECT_TRUE(bp.named);
  EXPECT_EQ(bp.location, "main.go:10");
  EXPECT_EQ(bp.line, 1);
  EXPECT_FALSE(bp.stops);
  EXPECT_THAT(bp.prints, ElementsAre("r.RemoteAddr"));
}

TEST(TraceScriptTest, EverySupportedCommand) {
  auto s = ParseTraceScript(
      "# comment\n"
      "\n"
      "  trace main.handleSlash  \n"
      "break stop1 main.go:9\n"
      "on 1 print r.Method\n"
      "on bp1 print len(r.URL.Path) + 1\n"
      "on stop1 stack 5\n"
      "on stop1 stack\n"
      "cond stop1 r.Method == \"POST\"\n"
      "cond -hitcount bp1 > 3\n"
      "c\n"
      "# trailing comment\n",
      "x.dlv");
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_EQ(s->breakpoints.size(), 2u);
  const ScriptBreakpoint& a = s->breakpoints[0];
  EXPECT_EQ(a.name, "bp1");
  EXPECT_FALSE(a.named);
  EXPECT_EQ(a.location, "main.handleSlash");
  EXPECT_EQ(a.line, 3);
  EXPECT_THAT(a.prints, ElementsAre("r.Method", "len(r.URL.Path) + 1"));
  EXPECT_EQ(a.hit_cond, "> 3");
  const ScriptBreakpoint& b = s->breakpoints[1];
  EXPECT_EQ(b.name, "stop1");
  EXPECT_TRUE(b.stops);
  EXPECT_EQ(b.stack_depth, 10);  // the later `on stop1 stack` wins with the default depth
  EXPECT_EQ(b.cond, "r.Method == \"POST\"");
}

TEST(TraceScriptTest, CommandsAreRecordedInCanonicalWords) {
  auto s = ParseTraceScript(
      "t a main.go:10\nb x.go:2\non a p r.Host\non 2 bt 3\ncondition a x > 1\n"
      "cond -hitcount 2 == 1\nc\n",
      "x.dlv");
  ASSERT_TRUE(s.ok()) << s.status();
  std::vector<std::string> words, commands, actions;
  for (const ScriptCommand& c : s->commands) {
    words.push_back(c.word);
    commands.push_back(c.command);
    actions.push_back(c.action);
  }
  EXPECT_THAT(words, ElementsAre("t", "b", "on", "on", "condition", "cond", "c"));
  EXPECT_THAT(commands, ElementsAre("trace", "break", "on", "on", "cond", "cond", "continue"));
  EXPECT_THAT(actions, ElementsAre("", "", "print", "stack", "", "", ""));
  EXPECT_EQ(s->commands[3].line, 4);
  EXPECT_EQ(s->commands[3].action_word, "bt");
  EXPECT_TRUE(s->breakpoints[1].stops);
  EXPECT_THAT(s->breakpoints[0].prints, ElementsAre("r.Host"));
  EXPECT_EQ(s->breakpoints[1].stack_depth, 3);
}

TEST(TraceScriptTest, CanonicalWords) {
  EXPECT_EQ(CanonicalCommand("t"), "trace");
  EXPECT_EQ(CanonicalCommand("b"), "break");
  EXPECT_EQ(CanonicalCommand("c"), "continue");
  EXPECT_EQ(CanonicalCommand("condition"), "cond");
  EXPECT_EQ(CanonicalCommand("on"), "on");
  EXPECT_EQ(CanonicalCommand("call"), "");
  EXPECT_EQ(CanonicalAction("p"), "print");
  EXPECT_EQ(CanonicalAction("bt"), "stack");
  EXPECT_EQ(CanonicalAction("locals"), "");
}

struct BadCase {
  const char* script;
  const char* want;
};

class TraceScriptErrorTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(TraceScriptErrorTest, RefusedWithFileAndLine) {
  auto s = ParseTraceScript(GetParam().script, "trace.dlv");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.status().message(), HasSubstr(GetParam().want));
}

INSTANTIATE_TEST_SUITE_P(
    Cases, TraceScriptErrorTest,
    ::testing::Values(
        BadCase{"trace a main.go:10\ncall os.Exit(1)\n",
                "trace.dlv:2: command \"call\" is not allowed"},
        BadCase{"set x = 1\n", "trace.dlv:1: command \"set\" is not allowed"},
        BadCase{"restart\n", "trace.dlv:1: command \"restart\" is not allowed"},
        BadCase{"frobnicate\n", "trace.dlv:1: unknown command \"frobnicate\""},
        BadCase{"trace\n", "trace.dlv:1: usage: trace [name] <location>"},
        BadCase{"trace a b c\n", "trace.dlv:1: usage"},
        BadCase{"trace my_bp main.go:10\n", "trace.dlv:1: bad name \"my_bp\""},
        BadCase{"trace 12 main.go:10\n", "bad name \"12\""},
        BadCase{"trace a x.go:1\ntrace a y.go:2\n", "trace.dlv:2: name \"a\" is already used"},
        BadCase{"on nope print x\n", "trace.dlv:1: no tracepoint or breakpoint \"nope\""},
        BadCase{"trace a x.go:1\non a print\n", "trace.dlv:2: usage: on <bp> print <expr>"},
        BadCase{"trace a x.go:1\non a stack lots\n", "bad stack depth \"lots\""},
        BadCase{"trace a x.go:1\non a locals\n", "`on a locals` is not supported"},
        BadCase{"trace a x.go:1\ncond -hitcount a ~ 3\n", "bad hit count operator \"~\""},
        BadCase{"trace a x.go:1\ncond -hitcount a > x\n", "bad hit count \"x\""},
        BadCase{"trace a x.go:1\ncond -hitcount a % 0\n", "use a number from 1"},
        BadCase{"trace a x.go:1\ncond a\n", "usage: cond <bp> <expr>"},
        BadCase{"trace a x.go:1\ncontinue\ntrace b y.go:2\n",
                "trace.dlv:3: nothing may follow `continue`"},
        BadCase{"continue now\n", "takes no arguments"},
        BadCase{"# nothing\n\n", "trace.dlv: no tracepoint"}));

// The bounds: each is refused with InvalidArgument naming the limit, and the largest allowed input
// still parses (a bound that is off by one either way fails here).
TEST(TraceScriptTest, BoundsAreEnforcedAndNamed) {
  std::string at_limit;
  for (size_t i = 1; i <= kMaxTracepoints; ++i) at_limit += absl::StrCat("trace main.f", i, "\n");
  ASSERT_TRUE(ParseTraceScript(at_limit, "t.dlv").ok());
  auto over = ParseTraceScript(at_limit + "trace main.g\n", "t.dlv");
  EXPECT_EQ(over.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(over.status().message(),
              HasSubstr(absl::StrCat("t.dlv:", kMaxTracepoints + 1, ": more than ", kMaxTracepoints,
                                     " tracepoints")));
  // 10,000 tracepoints (40,000 bytes): refused at the first one past the limit.
  std::string many;
  for (int i = 1; i <= 10000; ++i) many += "t f\n";
  EXPECT_THAT(ParseTraceScript(many, "t.dlv").status().message(),
              HasSubstr(absl::StrCat("t.dlv:", kMaxTracepoints + 1, ": more than")));

  const std::string expr(kMaxExpressionBytes, 'x');
  EXPECT_TRUE(
      ParseTraceScript("trace a main.f\non a print " + expr + "\ncond a " + expr, "t.dlv").ok());
  const std::string mb(1 << 20, 'x');  // an expression of 1 MB: past the script's bound already
  EXPECT_THAT(
      ParseTraceScript("trace a main.f\non a print " + mb + "\n", "t.dlv").status().message(),
      HasSubstr("bytes; a trace script may hold at most"));
  for (const std::string& line : {"on a print " + expr + "y", "cond a " + expr + "y",
                                  "on a print " + mb.substr(0, kMaxScriptBytes - 100)}) {
    auto s = ParseTraceScript("trace a main.f\n" + line + "\n", "t.dlv");
    EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(
        s.status().message(),
        HasSubstr(absl::StrCat("t.dlv:2: expression of ", line.size() - line.find(' ', 5) - 1,
                               " bytes; the limit is ", kMaxExpressionBytes)));
  }
  // A script of 100 MB, and one byte over the limit.
  for (size_t size : {kMaxScriptBytes + 1, size_t{100} << 20}) {
    std::string big = "trace a main.f\n";
    big.resize(size, '#');
    auto s = ParseTraceScript(big, "big.dlv");
    EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(
        s.status().message(),
        HasSubstr(absl::StrCat("big.dlv: ", size, " bytes; a trace script may hold at most ",
                               kMaxScriptBytes, " bytes")));
  }
  std::string max_size = "trace a main.f\n";
  max_size.resize(kMaxScriptBytes, '#');
  EXPECT_TRUE(ParseTraceScript(max_size, "t.dlv").ok());
}

}  // namespace
}  // namespace kdbg::script
