// The inspector on real executables: the Go test targets as production builds them (with and
// without optimisation, stripped) and a C program with debug info.
#include "agent/gobinary/go_binary.h"

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "agent/gobinary/build_info.h"
#include "agent/gobinary/dwarf.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/test_env.h"

namespace kdbg::gobinary {
namespace {

using kdbg::testing::TargetPath;
using ::testing::HasSubstr;

std::unique_ptr<GoBinary> OpenTarget(const std::string& name) {
  auto bin = GoBinary::Open(TargetPath(name));
  EXPECT_TRUE(bin.ok()) << bin.status();
  return bin.ok() ? *std::move(bin) : nullptr;
}

void ExpectGoVersion(const GoBinaryFacts& f) {
  EXPECT_TRUE(f.is_go);
  EXPECT_TRUE(absl::StartsWith(f.go_version, "go1.")) << f.go_version;
  EXPECT_TRUE(ParseGoVersion(f.go_version).has_value()) << f.go_version;
}

// The three builds of the same program: what each says about itself.
TEST(GoBinary, DebugOptimisedAndStrippedBuilds) {
  struct Case {
    const char* target;
    bool has_dwarf, optimized, stripped;
  } cases[] = {
      {"hello-world-nol", true, false, false},  // -gcflags='all=-N -l'
      {"hello-world", true, true, false},       // Go's default build, as production builds it
      {"hello-world-optimized", true, true, false},
      {"hello-world-stripped", false, true, true},  // -ldflags='-s -w'
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.target);
    auto bin = OpenTarget(c.target);
    ASSERT_NE(bin, nullptr);
    const GoBinaryFacts& f = bin->facts();
    ExpectGoVersion(f);
    EXPECT_FALSE(f.module_path.empty());
    EXPECT_FALSE(f.build_id.empty());  // the Go build ID survives -s -w
    EXPECT_EQ(f.build_id.find('\0'), std::string::npos);
    EXPECT_EQ(f.has_dwarf, c.has_dwarf);
    EXPECT_EQ(f.optimized, c.optimized);
    EXPECT_EQ(f.stripped, c.stripped);
    EXPECT_EQ(bin->dwarf() != nullptr, c.has_dwarf);
    EXPECT_EQ(bin->Functions().empty(), c.stripped);
    if (c.has_dwarf) {
      EXPECT_THAT(bin->Producer(), HasSubstr("Go cmd/compile " + f.go_version));
    }
  }
}

// Without `go build`'s settings (.go.buildinfo removed) the DWARF producer names the Go version
// and the flags; with them, the facts come from the settings alone and the producer is read only
// when asked for.
TEST(GoBinary, WithoutBuildSettingsTheDwarfProducerAnswers) {
  auto bin = OpenTarget("hello-world-nol-nobuildinfo");
  ASSERT_NE(bin, nullptr);
  const GoBinaryFacts& f = bin->facts();
  EXPECT_TRUE(f.build_settings.empty());
  EXPECT_TRUE(f.module_path.empty());
  ExpectGoVersion(f);
  EXPECT_THAT(bin->Producer(), HasSubstr("-N -l"));
  EXPECT_FALSE(f.optimized);
  auto full = OpenTarget("hello-world-nol");
  ASSERT_NE(full, nullptr);
  EXPECT_EQ(f.go_version, full->facts().go_version);
}

TEST(GoBinary, DebugBuildRecordsItsGcflags) {
  auto bin = OpenTarget("hello-world-nol");
  ASSERT_NE(bin, nullptr);
  bool gcflags = false;
  for (const auto& [k, v] : bin->facts().build_settings) {
    gcflags |= (k == "-gcflags" && v == "all=-N -l");
  }
  EXPECT_TRUE(gcflags);
}

// The Go versions of the support matrix (tests/targets/CMakeLists.txt).
TEST(GoBinary, GoVersionsOfTheMatrixBuilds) {
  struct Case {
    const char* target;
    const char* prefix;
  } cases[] = {{"hello-world", "go1.26."},
               {"hello-world-go127", "go1.27.3"},
               {"hello-world-go119", "go1.19."}};
  for (const Case& c : cases) {
    SCOPED_TRACE(c.target);
    auto bin = OpenTarget(c.target);
    ASSERT_NE(bin, nullptr);
    EXPECT_TRUE(absl::StartsWith(bin->facts().go_version, c.prefix)) << bin->facts().go_version;
    EXPECT_TRUE(bin->facts().has_dwarf);
    EXPECT_TRUE(bin->facts().optimized);
  }
}

TEST(GoBinary, StrippedBuildHasNoSymbolsToLookIn) {
  auto bin = OpenTarget("hello-world-stripped");
  ASSERT_NE(bin, nullptr);
  auto fn = bin->FindFunction("main.main");
  EXPECT_EQ(fn.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(fn.status().message(), HasSubstr("stripped"));
}

TEST(GoBinary, CProgramIsNotGo) {
  auto bin = OpenTarget("not-go");
  ASSERT_NE(bin, nullptr);
  EXPECT_FALSE(bin->facts().is_go);
  EXPECT_EQ(bin->facts().go_version, "");
  EXPECT_TRUE(bin->facts().has_dwarf);
  EXPECT_TRUE(bin->FindFunction("main").ok());
}

TEST(GoBinary, FunctionSymbols) {
  auto bin = OpenTarget("hello-world");
  ASSERT_NE(bin, nullptr);
  auto handler = bin->FindFunction("main.handleSlash");
  ASSERT_TRUE(handler.ok()) << handler.status();
  EXPECT_NE(handler->address, 0u);
  EXPECT_GT(handler->size, 0u);
  auto at = bin->FunctionAt(handler->address + handler->size / 2);
  ASSERT_TRUE(at.ok()) << at.status();
  EXPECT_EQ(at->name, "main.handleSlash");
  EXPECT_EQ(bin->FunctionAt(0).status().code(), absl::StatusCode::kNotFound);
  auto missing = bin->FindFunction("main.noSuchFunction");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr("main.noSuchFunction"));

  std::vector<std::string> mains;
  bin->ForEachFunction("main.", [&](const FunctionSymbol& f) {
    mains.push_back(f.name);
    return true;
  });
  // main.listenAddr is inlined into main.main by the optimized build: no symbol of its own.
  EXPECT_THAT(mains, ::testing::IsSupersetOf({"main.main", "main.handleSlash"}));
  int seen = 0;
  bin->ForEachFunction("", [&](const FunctionSymbol&) { return ++seen < 3; });
  EXPECT_EQ(seen, 3);
  EXPECT_GT(bin->Functions().size(), 1000u);  // the runtime's functions too
}

TEST(GoBinary, FileOffsetOfAFunctionHoldsItsCode) {
  auto bin = OpenTarget("hello-world");
  ASSERT_NE(bin, nullptr);
  auto fn = bin->FindFunction("main.main");
  ASSERT_TRUE(fn.ok()) << fn.status();
  auto off = bin->FileOffset(fn->address);
  ASSERT_TRUE(off.ok()) << off.status();
  EXPECT_LT(*off, fn->address);  // Go's text starts at 0x401000, file offset 0x1000
  EXPECT_EQ(fn->address - *off, 0x400000u);
  EXPECT_EQ(bin->FileOffset(1).status().code(), absl::StatusCode::kNotFound);
}

TEST(GoBinary, CodeBytesItabSymbolsAndPie) {
  auto bin = OpenTarget("hello-world");
  ASSERT_NE(bin, nullptr);
  auto fn = bin->FindFunction("main.handleSlash");
  ASSERT_TRUE(fn.ok()) << fn.status();
  EXPECT_EQ(*bin->CodeFileOffset(fn->address), *bin->FileOffset(fn->address));
  auto code = bin->CodeBytes(fn->address, 4);
  ASSERT_TRUE(code.ok()) << code.status();
  ASSERT_EQ(code->size(), 4u);
  // Go 1.26 amd64 functions with a frame begin with the stack check: CMPQ SP, 16(R14) (or LEAQ
  // first for big frames): 49 3b 66 10 / 4c 8d 64 24.
  EXPECT_TRUE(*code == "\x49\x3b\x66\x10" || *code == "\x4c\x8d\x64\x24")
      << absl::BytesToHexString(*code);
  EXPECT_FALSE(bin->IsPie());
  // Read-only data is not code: no uprobe may go there.
  std::vector<FunctionSymbol> itabs = bin->DataSymbols("go:itab.");
  ASSERT_FALSE(itabs.empty());
  EXPECT_EQ(bin->CodeFileOffset(itabs[0].address).status().code(), absl::StatusCode::kOutOfRange);
  bool response_writer = false;
  for (const FunctionSymbol& s : itabs) {
    EXPECT_TRUE(absl::StartsWith(s.name, "go:itab.")) << s.name;
    if (s.name == "go:itab.*net/http.response,net/http.ResponseWriter") response_writer = true;
  }
  EXPECT_TRUE(response_writer);
}

TEST(GoBinary, DwarfHandleForTheReadersBesideIt) {
  auto bin = OpenTarget("hello-world");
  ASSERT_NE(bin, nullptr);
  EXPECT_NE(bin->elf(), nullptr);
  EXPECT_NE(bin->dwarf(), nullptr);
  EXPECT_EQ(bin->dwarf(), bin->dwarf());  // opened once
}

// A string section whose last string runs off its end, as in a damaged or hostile image (found by
// fuzz_gobinary: the fixture is tiny with .debug_line_str's last byte changed and its type made
// SHT_NOTE, so that libelf copies it to the heap, where ASan saw libdw's pointer to the unit's
// name read past the copy). libdw checks the offset, not the NUL: such DWARF is not used at all.
TEST(GoBinary, DwarfWhoseStringSectionDoesNotEndInANulIsNotUsed) {
  const std::string corpus = kdbg::testing::SourceDir() + "/fuzz/corpus/gobinary/";
  auto intact = GoBinary::Open(corpus + "tiny");
  ASSERT_TRUE(intact.ok()) << intact.status();
  EXPECT_NE((*intact)->dwarf(), nullptr);
  EXPECT_EQ((*intact)->dwarf_problem(), "");

  const std::string damaged = corpus + "crash-unterminated-line-str";
  auto bin = GoBinary::Open(damaged);
  ASSERT_TRUE(bin.ok()) << bin.status();
  EXPECT_TRUE((*bin)->facts().has_dwarf);
  EXPECT_EQ((*bin)->dwarf(), nullptr);
  EXPECT_EQ((*bin)->dwarf_problem(), ".debug_line_str does not end in a NUL byte");
  EXPECT_EQ((*bin)->Producer(), "");
  auto reader = DwarfReader::Open(damaged);
  EXPECT_EQ(reader.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(reader.status().message(),
              HasSubstr("has damaged DWARF debug info (.debug_line_str does not end in a NUL "
                        "byte): values cannot be read from it; rebuild the binary"));
}

TEST(GoBinary, Errors) {
  EXPECT_EQ(GoBinary::Open("/nonexistent/x").status().code(), absl::StatusCode::kNotFound);
  auto text = GoBinary::Open(kdbg::testing::SourceDir() + "/agent/gobinary/CMakeLists.txt");
  EXPECT_EQ(text.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(text.status().message(), HasSubstr("is not an ELF file"));
}

TEST(ElfInspector, SameFactsAsGoBinary) {
  auto facts = NewElfInspector()->Inspect(TargetPath("hello-world"));
  ASSERT_TRUE(facts.ok()) << facts.status();
  auto bin = OpenTarget("hello-world");
  ASSERT_NE(bin, nullptr);
  EXPECT_EQ(facts->build_id, bin->facts().build_id);
  EXPECT_EQ(facts->go_version, bin->facts().go_version);
  EXPECT_EQ(NewElfInspector()->Inspect("/nonexistent/x").status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace kdbg::gobinary
