// Quick trace's script and messages. The script is checked with the one grammar the agent and the
// controller's policy parse it with (script/trace_script.h).
#include "cli/quick_trace.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "script/trace_script.h"

namespace kdbg::cli {
namespace {

using ::testing::HasSubstr;

TEST(QuickTrace, ScriptIsOneTracepointPerFunctionWithPrintsAndStack) {
  auto text = QuickTraceScript(
      "^main\\.handle|Add$",
      {"main.handleOrder", "main.handleSlash", "github.com/acme/shop/cart.(*Cart).Add"},
      {"r.URL.Path", " len(o.Items) "}, 5);
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(*text,
            "# kdbg trace ^main\\.handle|Add$\n"
            "trace handleOrder main.handleOrder\n"
            "on handleOrder print r.URL.Path\n"
            "on handleOrder print len(o.Items)\n"
            "on handleOrder stack 5\n"
            "trace handleSlash main.handleSlash\n"
            "on handleSlash print r.URL.Path\n"
            "on handleSlash print len(o.Items)\n"
            "on handleSlash stack 5\n"
            "trace CartAdd github.com/acme/shop/cart.(*Cart).Add\n"
            "on CartAdd print r.URL.Path\n"
            "on CartAdd print len(o.Items)\n"
            "on CartAdd stack 5\n");
  auto parsed = script::ParseTraceScript(*text, "quick-trace");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  ASSERT_EQ(parsed->breakpoints.size(), 3u);
  EXPECT_EQ(parsed->breakpoints[2].location, "github.com/acme/shop/cart.(*Cart).Add");
  EXPECT_EQ(parsed->breakpoints[2].prints,
            (std::vector<std::string>{"r.URL.Path", "len(o.Items)"}));
  EXPECT_EQ(parsed->breakpoints[2].stack_depth, 5);
}

TEST(QuickTrace, BareScriptHasNoPrintsSoTheEbpfEngineMayRunIt) {
  auto text = QuickTraceScript("handleSlash", {"main.handleSlash"}, {}, 0);
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(*text, "# kdbg trace handleSlash\ntrace handleSlash main.handleSlash\n");
}

TEST(QuickTrace, NamesAreUniqueLettersAndDigitsNeverAllDigits) {
  EXPECT_EQ(TracepointName("main.main.func1"), "mainfunc1");
  EXPECT_EQ(TracepointName("net/http.(*ServeMux).ServeHTTP"), "ServeMuxServeHTTP");
  EXPECT_EQ(TracepointName("main.Map[go.shape.int]"), "Map");
  EXPECT_EQ(TracepointName("main.42"), "f42");
  auto text =
      QuickTraceScript("ServeHTTP", {"a.T.ServeHTTP", "b.T.ServeHTTP", "c.T.ServeHTTP"}, {}, 0);
  ASSERT_TRUE(text.ok());
  auto parsed = script::ParseTraceScript(*text, "quick-trace");
  ASSERT_TRUE(parsed.ok()) << parsed.status() << "\n" << *text;
  EXPECT_EQ(parsed->breakpoints[0].name, "TServeHTTP");
  EXPECT_EQ(parsed->breakpoints[1].name, "TServeHTTP2");
  EXPECT_EQ(parsed->breakpoints[2].name, "TServeHTTP3");
}

TEST(QuickTrace, AMultiLinePrintIsRefusedNotSmuggledIntoTheScript) {
  auto text = QuickTraceScript("x", {"main.x"}, {"a\ncall os.Exit(1)"}, 0);
  EXPECT_EQ(text.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(text.status().message(), HasSubstr("one Go expression on one line"));
  EXPECT_FALSE(QuickTraceScript("x", {}, {}, 0).ok());
}

TEST(QuickTrace, RefusalNamesTheCountTheCapAndTheFirstMatches) {
  kdbg::v1::FunctionList list;
  for (int i = 0; i < 12; ++i) list.add_functions()->set_name("main.f" + std::to_string(i));
  list.set_total(345);
  std::string m = TooManyFunctionsMessage("f", "pod/web", list, 20);
  EXPECT_THAT(m, HasSubstr("\"f\" matches 345 functions of pod/web"));
  EXPECT_THAT(m, HasSubstr("at most 20 (--max-funcs, up to 100)"));
  EXPECT_THAT(m, HasSubstr("the first 10: main.f0, main.f1,"));
  EXPECT_THAT(m, HasSubstr("main.f9, ..."));
  EXPECT_THAT(m, ::testing::Not(HasSubstr("main.f10")));
  EXPECT_THAT(m, HasSubstr("kdbg funcs pod/web 'f'"));
}

TEST(QuickTrace, FuncsListingIsOneNamePerLineOrJsonLines) {
  kdbg::v1::FunctionList list;
  auto* f = list.add_functions();
  f->set_name("main.handleSlash");
  f->set_address(0x4a1b2c);
  f->set_size(120);
  list.add_functions()->set_name("main.main");
  EXPECT_EQ(FunctionsText(list), "main.handleSlash\nmain.main\n");
  EXPECT_THAT(FunctionsJson(list),
              HasSubstr("{\"address\":\"0x4a1b2c\",\"name\":\"main.handleSlash\",\"size\":120,"
                        "\"type\":\"function\"}\n"));
}

}  // namespace
}  // namespace kdbg::cli
