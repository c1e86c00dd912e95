// MatchFunctions on the real Go 1.26 test targets as production builds them.
#include "agent/gobinary/function_match.h"

#include <algorithm>

#include "agent/gobinary/dwarf.h"

#include "absl/strings/match.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/test_env.h"

namespace kdbg::gobinary {
namespace {

using ::testing::HasSubstr;

std::unique_ptr<GoBinary> Open(const std::string& name) {
  auto bin = GoBinary::Open(kdbg::testing::TargetPath(name));
  EXPECT_TRUE(bin.ok()) << bin.status();
  return bin.ok() ? *std::move(bin) : nullptr;
}

std::vector<std::string> Names(const FunctionMatches& m) {
  std::vector<std::string> names;
  for (const auto& f : m.functions) names.push_back(f.name);
  return names;
}

TEST(MatchFunctions, RegexpPicksTheMainPackagesFunctionsSortedByName) {
  auto bin = Open("hello-world");
  ASSERT_NE(bin, nullptr);
  auto m = MatchFunctions(*bin, {.regexp = "^main\\."});
  ASSERT_TRUE(m.ok()) << m.status();
  std::vector<std::string> names = Names(*m);
  EXPECT_THAT(names, ::testing::IsSupersetOf({"main.handleSlash", "main.main"}));
  EXPECT_TRUE(std::is_sorted(names.begin(), names.end()));
  EXPECT_EQ(m->total, static_cast<int64_t>(names.size()));
  for (const auto& f : m->functions) {
    EXPECT_TRUE(absl::StartsWith(f.name, "main.")) << f.name;
    EXPECT_NE(f.address, 0u) << f.name;
  }
}

TEST(MatchFunctions, UnanchoredLikeDlvTraceAndPagedByOffsetAndLimit) {
  auto bin = Open("hello-world");
  ASSERT_NE(bin, nullptr);
  auto all = MatchFunctions(*bin, {.regexp = "ServeHTTP"});
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_GE(all->total, 3) << "net/http has several ServeHTTP methods";
  EXPECT_THAT(Names(*all), ::testing::Contains("net/http.HandlerFunc.ServeHTTP"));
  auto page = MatchFunctions(*bin, {.regexp = "ServeHTTP", .offset = 1, .limit = 2});
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->total, all->total);
  ASSERT_EQ(page->functions.size(), 2u);
  EXPECT_EQ(page->functions[0].name, all->functions[1].name);
  EXPECT_EQ(page->functions[1].name, all->functions[2].name);
  auto past = MatchFunctions(*bin, {.regexp = "ServeHTTP", .offset = 1000000});
  ASSERT_TRUE(past.ok());
  EXPECT_TRUE(past->functions.empty());
}

TEST(MatchFunctions, ExcludeRuntimeLeavesOutTheSchedulerButNotTheStandardLibrary) {
  auto bin = Open("hello-world");
  ASSERT_NE(bin, nullptr);
  auto with = MatchFunctions(*bin, {.regexp = "^(runtime|internal/runtime/|net/http)\\."});
  ASSERT_TRUE(with.ok());
  EXPECT_THAT(Names(*with), ::testing::Contains("runtime.mallocgc"));
  auto without = MatchFunctions(
      *bin, {.regexp = "^(runtime|internal/runtime/|net/http)\\.", .exclude_runtime = true});
  ASSERT_TRUE(without.ok());
  EXPECT_LT(without->total, with->total);
  for (const auto& f : without->functions) {
    EXPECT_TRUE(absl::StartsWith(f.name, "net/http.")) << f.name;
  }
}

// A function the compiler inlined at every call has no symbol; the DWARF names it and it is
// listed (address 0) among the symbol table's, as `dlv funcs` lists it. On the values target:
// main.half and main.scale are only inlined; main.clampQty also has a body (one entry).
TEST(MatchFunctions, FunctionsInlinedAtEveryCallAreListedFromTheDwarf) {
  auto bin = GoBinary::Open(kdbg::testing::TargetPath("values"));
  ASSERT_TRUE(bin.ok()) << bin.status();
  std::shared_ptr<const GoBinary> shared(*std::move(bin));
  auto dwarf = DwarfReader::On(shared);
  ASSERT_TRUE(dwarf.ok()) << dwarf.status();
  const std::vector<std::string> inlined = (*dwarf)->InlinedOnlyFunctions();
  EXPECT_THAT(inlined, ::testing::IsSupersetOf({"main.half", "main.scale"}));
  EXPECT_THAT(inlined, ::testing::Not(::testing::Contains("main.clampQty")));
  EXPECT_TRUE(std::is_sorted(inlined.begin(), inlined.end()));
  auto without = MatchFunctions(*shared, {.regexp = "^main\\.(half|scale|clampQty)$"});
  ASSERT_TRUE(without.ok()) << without.status();
  EXPECT_THAT(Names(*without), ::testing::ElementsAre("main.clampQty"));
  auto m = MatchFunctions(*shared, {.regexp = "^main\\.(half|scale|clampQty)$"}, inlined);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_THAT(Names(*m), ::testing::ElementsAre("main.clampQty", "main.half", "main.scale"));
  EXPECT_EQ(m->total, 3);
  EXPECT_NE(m->functions[0].address, 0u);
  EXPECT_EQ(m->functions[1].address, 0u);
  EXPECT_EQ(m->functions[2].size, 0u);

  // What the agent lists from: the same names, per build; none for a stripped binary.
  InlinedOnlyCache cache;
  EXPECT_EQ(cache.For(shared), inlined);
  EXPECT_EQ(cache.For(shared), inlined);
  std::shared_ptr<const GoBinary> stripped(Open("hello-world-stripped"));
  ASSERT_NE(stripped, nullptr);
  EXPECT_THAT(cache.For(stripped), ::testing::IsEmpty());
}

TEST(MatchFunctions, CompilerGeneratedSymbolsAreNeverListed) {
  auto bin = Open("hello-world");
  ASSERT_NE(bin, nullptr);
  bool has_type_eq = false;
  for (const auto& f : bin->Functions()) has_type_eq |= absl::StartsWith(f.name, "type:");
  EXPECT_TRUE(has_type_eq) << "the fixture should have type:.eq.* symbols to leave out";
  auto m = MatchFunctions(*bin, {});
  ASSERT_TRUE(m.ok());
  for (const auto& f : m->functions) {
    EXPECT_FALSE(absl::StartsWith(f.name, "type:")) << f.name;
    EXPECT_FALSE(absl::StartsWith(f.name, "go:")) << f.name;
  }
}

TEST(MatchFunctions, BadRegexpAndStrippedBinaryAreClearErrors) {
  auto bin = Open("hello-world");
  ASSERT_NE(bin, nullptr);
  auto bad = MatchFunctions(*bin, {.regexp = "main.(handle"});
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(), HasSubstr("invalid regular expression \"main.(handle\""));
  EXPECT_THAT(bad.status().message(), HasSubstr("missing )"));
  auto stripped = Open("hello-world-stripped");
  ASSERT_NE(stripped, nullptr);
  auto s = MatchFunctions(*stripped, {.regexp = "main"});
  EXPECT_EQ(s.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.status().message(), HasSubstr("stripped"));
}

TEST(FunctionPackage, ThePathUpToTheFirstDotAfterTheLastSlash) {
  EXPECT_EQ(FunctionPackage("net/http.(*conn).serve"), "net/http");
  EXPECT_EQ(FunctionPackage("main.main.func1"), "main");
  EXPECT_EQ(FunctionPackage("github.com/acme/shop/cart.(*Cart).Add"), "github.com/acme/shop/cart");
  EXPECT_EQ(FunctionPackage("main.Map[go.shape.struct { net/http.x int }]"), "main");
  EXPECT_TRUE(IsRuntimePackage("runtime"));
  EXPECT_TRUE(IsRuntimePackage("internal/runtime/maps"));
  EXPECT_FALSE(IsRuntimePackage("net/http"));
  EXPECT_FALSE(IsRuntimePackage("runtimefoo"));
}

}  // namespace
}  // namespace kdbg::gobinary
