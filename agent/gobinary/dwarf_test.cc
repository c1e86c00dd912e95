// The DWARF reader on a real Go 1.26 optimized build (tests/targets/values): functions the compiler
// also inlined, and their inlined calls.
#include "agent/gobinary/dwarf.h"
#include "common/clock.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/test_env.h"

namespace kdbg::gobinary {
namespace {

using kdbg::testing::TargetPath;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

std::unique_ptr<DwarfReader> OpenValues() {
  auto r = DwarfReader::Open(TargetPath("values"));
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *std::move(r) : nullptr;
}

std::vector<std::string> Names(const Function& fn) {
  std::vector<std::string> out;
  for (const Parameter& p : fn.params) out.push_back(p.name);
  return out;
}

std::string TypeName(DwarfReader& r, TypeId id) {
  auto t = r.Type(id);
  return t.ok() ? t->name : t.status().ToString();
}

// main.clampQty has an out-of-line body (called through a func value) whose parameters name their
// type only on the abstract DIE (DW_AT_abstract_origin): read through it.
TEST(DwarfReader, ParametersOfAFunctionAlsoInlinedHaveTheirTypes) {
  auto r = OpenValues();
  ASSERT_NE(r, nullptr);
  auto fn = r->FindFunction("main.clampQty");
  ASSERT_TRUE(fn.ok()) << fn.status();
  EXPECT_THAT(Names(*fn), ElementsAre("qty", "note", "~r0"));
  ASSERT_EQ(fn->params.size(), 3u);
  EXPECT_EQ(TypeName(*r, fn->params[0].type), "int");
  EXPECT_EQ(TypeName(*r, fn->params[1].type), "string");
  EXPECT_FALSE(fn->params[1].is_return);
  EXPECT_TRUE(fn->params[2].is_return);
  auto pieces = r->ParameterAt(*fn, "qty", fn->entry);
  EXPECT_TRUE(pieces.ok()) << pieces.status();
}

// A map's type is the linker's typedef "map[string]int" of a pointer to its runtime header
// "map<string,int>" (Go 1.24+: internal/runtime/maps.Map's fields): a one-word value, its key and
// element types from DW_AT_go_key and DW_AT_go_elem (what the eBPF engine's MAP walks: plan.cc,
// SwissSlot).
TEST(DwarfReader, AMapTypeNamesItsKeyElementAndRuntimeHeader) {
  auto r = OpenValues();
  ASSERT_NE(r, nullptr);
  auto fn = r->FindFunction("main.browse");
  ASSERT_TRUE(fn.ok()) << fn.status();
  ASSERT_FALSE(fn->params.empty());
  auto m = r->Type(fn->params[0].type);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->name, "map[string]int");
  EXPECT_EQ(m->kind, GoKind::kMap);
  EXPECT_EQ(m->size, 8u);
  EXPECT_EQ(TypeName(*r, m->key), "string");
  EXPECT_EQ(TypeName(*r, m->value), "int");
  auto header = r->Type(m->elem);
  ASSERT_TRUE(header.ok()) << header.status();
  EXPECT_EQ(header->name, "map<string,int>");
  std::vector<std::string> fields;
  for (const Member& f : header->members) fields.push_back(absl::StrCat(f.name, "+", f.offset));
  EXPECT_THAT(fields, ::testing::IsSupersetOf({"used+0", "dirPtr+16", "dirLen+24"}));
}

// A leaf function has no stack check and no prologue_end row: Delve puts its breakpoint on the
// first is_stmt row (its first statement), and so reports the hit's line.
TEST(DwarfReader, AfterThePrologueOfALeafIsItsFirstStatement) {
  auto r = OpenValues();
  ASSERT_NE(r, nullptr);
  auto fn = r->FindFunction("main.clampQty");
  ASSERT_TRUE(fn.ok()) << fn.status();
  auto at = r->AfterPrologue(*fn);
  ASSERT_TRUE(at.ok()) << at.status();
  ASSERT_TRUE(at->has_value()) << std::hex << fn->entry << " " << fn->end << " " << fn->die;
  EXPECT_GT(**at, fn->entry);
  auto line = r->LineAt(**at);
  ASSERT_TRUE(line.ok()) << line.status();
  EXPECT_EQ(line->second, fn->line + 1);  // `if qty > 100 {`, below the func line
}

// A line's code as Delve's FILE:LINE finds it (tests/targets/values/main.go): handleOrder's first
// line is its entry; a line of a body is not; clampQty's `if` is in its out-of-line body and in
// the copy inlined in serveOrder. Files match whole or after a '/', and only one may.
TEST(DwarfReader, LineSitesAreWhereDelveBreaksOnALine) {
  auto r = OpenValues();
  ASSERT_NE(r, nullptr);
  auto handle = r->FindFunction("main.handleOrder");
  ASSERT_TRUE(handle.ok()) << handle.status();
  ASSERT_EQ(handle->line, 48);
  for (const char* file : {"main.go", "values/main.go"}) {
    auto first = r->LineSites(file, 48);
    ASSERT_TRUE(first.ok()) << first.status();
    EXPECT_TRUE(absl::EndsWith(first->file, "/values/main.go")) << first->file;
    ASSERT_EQ(first->sites.size(), 1u);
    EXPECT_EQ(first->sites[0].function, "main.handleOrder");
    EXPECT_EQ(first->sites[0].pc, handle->entry);
    EXPECT_FALSE(first->sites[0].inlined);
  }
  auto body = r->LineSites("main.go", 49);
  ASSERT_TRUE(body.ok()) << body.status();
  ASSERT_EQ(body->sites.size(), 1u);
  EXPECT_EQ(body->sites[0].function, "main.handleOrder");
  EXPECT_GT(body->sites[0].pc, handle->entry);
  EXPECT_LT(body->sites[0].pc, handle->end);

  auto clamp = r->LineSites("main.go", 123);
  ASSERT_TRUE(clamp.ok()) << clamp.status();
  std::vector<std::string> where;
  for (const LineSite& s : clamp->sites) {
    where.push_back(absl::StrCat(s.function, s.inlined ? " (inlined)" : ""));
  }
  EXPECT_THAT(where, ::testing::UnorderedElementsAre("main.clampQty", "main.serveOrder (inlined)"));

  EXPECT_EQ(r->LineSites("alues/main.go", 48).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(r->LineSites("nope.go", 1).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(r->LineSites("main.go", 100000).status().code(), absl::StatusCode::kNotFound);
  auto ambiguous = r->LineSites("proc.go", 10);
  EXPECT_EQ(ambiguous.status().code(), absl::StatusCode::kFailedPrecondition) << ambiguous.status();
  EXPECT_THAT(std::string(ambiguous.status().message()),
              ::testing::AllOf(::testing::HasSubstr("/runtime/proc.go"),
                               ::testing::HasSubstr("/os/proc.go")));
}

// Names at a line of a body, as Delve's evaluator scopes them (tests/targets/values serveScopes:
// 327 `label :=`, 328 `total :=` (escapes: "&total"), 331 an inner `label :=` in an if's block).
TEST(DwarfReader, VariableAtScopesANameAsDelve) {
  auto r = OpenValues();
  ASSERT_NE(r, nullptr);
  auto fn = r->FindFunction("main.serveScopes");
  ASSERT_TRUE(fn.ok()) << fn.status();
  auto pc_of = [&](int line) -> uint64_t {
    auto l = r->LineSites("main.go", line);
    EXPECT_TRUE(l.ok() && l->sites.size() == 1) << line;
    return l.ok() && !l->sites.empty() ? l->sites[0].pc : 0;
  };
  auto type_name = [&](const Variable& v) {
    auto t = r->Type(v.type);
    return t.ok() ? t->name : std::string(t.status().message());
  };
  // 331: the inner label is declared on this line, so `label` is still the outer one.
  auto outer = r->VariableAt(*fn, "label", pc_of(331), 331);
  ASSERT_TRUE(outer.ok()) << outer.status();
  EXPECT_EQ(outer->decl_line, 327u);
  EXPECT_FALSE(outer->parameter);
  EXPECT_EQ(type_name(*outer), "string");
  auto inner = r->VariableAt(*fn, "label", pc_of(333), 333);
  ASSERT_TRUE(inner.ok()) << inner.status();
  EXPECT_EQ(inner->decl_line, 331u);
  EXPECT_TRUE(inner->pieces.ok()) << inner->pieces.status();
  // Past the block, the outer one again.
  auto after = r->VariableAt(*fn, "label", pc_of(335), 335);
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->decl_line, 327u);
  auto total = r->VariableAt(*fn, "total", pc_of(333), 333);
  ASSERT_TRUE(total.ok()) << total.status();
  EXPECT_TRUE(total->escaped);
  EXPECT_EQ(type_name(*total), "*int");
  auto param = r->VariableAt(*fn, "r", pc_of(333), 333);
  ASSERT_TRUE(param.ok()) << param.status();
  EXPECT_TRUE(param->parameter);
  // Not yet declared on its own line; a global; no such name.
  EXPECT_EQ(r->VariableAt(*fn, "total", pc_of(328), 328).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(r->VariableAt(*fn, "kept", pc_of(333), 333).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(r->VariableAt(*fn, "nope", pc_of(333), 333).status().code(),
            absl::StatusCode::kNotFound);
}

TEST(DwarfReader, InlinedCallsAreFoundInTheirCaller) {
  auto r = OpenValues();
  ASSERT_NE(r, nullptr);
  absl::Time start = kdbg::MonotonicNow();
  std::vector<InlinedCall> calls = r->InlinedCalls("main.clampQty");
  const absl::Duration first = kdbg::MonotonicNow() - start;
  ASSERT_EQ(calls.size(), 1u);  // serveOrder's direct call; the other goes through clampFn
  const InlinedCall& c = calls[0];
  EXPECT_EQ(c.caller, "main.serveOrder");
  EXPECT_EQ(c.callee.name, "main.clampQty");
  EXPECT_GE(c.callee.entry, c.caller_entry);
  EXPECT_LT(c.callee.entry, c.caller_end);
  EXPECT_TRUE(absl::EndsWith(c.callee.file, "values/main.go")) << c.callee.file;
  EXPECT_GT(c.callee.line, 0);
  // The call's own parameters (no results: an inlined call has no DIE for them).
  for (const Parameter& p : c.callee.params) {
    EXPECT_FALSE(p.is_return) << p.name;
    EXPECT_NE(p.type, 0u) << p.name;
  }
  EXPECT_FALSE(c.callee.params.empty());

  // half is only ever inlined: no body, one call.
  EXPECT_EQ(r->FindFunction("main.half").status().code(), absl::StatusCode::kNotFound);
  std::vector<InlinedCall> half = r->InlinedCalls("main.half");
  ASSERT_EQ(half.size(), 1u);
  EXPECT_EQ(half[0].caller, "main.serveOrder");
  EXPECT_THAT(Names(half[0].callee), ElementsAre("n"));
  EXPECT_EQ(TypeName(*r, half[0].callee.params[0].type), "int64");

  // Never inlined: none.
  EXPECT_THAT(r->InlinedCalls("main.handleOrder"), IsEmpty());
  EXPECT_THAT(r->InlinedCalls("main.nope"), IsEmpty());
  // A function of the standard library inlined all over it (Go 1.26: 861 calls), in other
  // packages' units.
  std::vector<InlinedCall> many = r->InlinedCalls("errors.New");
  EXPECT_GE(many.size(), 100u);
  EXPECT_TRUE(std::any_of(many.begin(), many.end(),
                          [](const InlinedCall& c) { return absl::StartsWith(c.caller, "os."); }));
  std::cerr << "first InlinedCalls (walks every unit): " << first << "\n";
}

// The code at a PC for a stack: serveNested's call of wrapStamp is inlined, and within it the call
// of stamp: at that call the function is serveNested, with wrapStamp called from line 353.
TEST(DwarfReader, CodeAtNamesTheFunctionAndTheCallsInlinedThere) {
  auto r = OpenValues();
  ASSERT_NE(r, nullptr);
  std::vector<InlinedCall> calls = r->InlinedCalls("main.wrapStamp");
  ASSERT_EQ(calls.size(), 1u);
  auto code = r->CodeAt(calls[0].callee.entry);
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(code->function, "main.serveNested");
  EXPECT_EQ(code->entry, calls[0].caller_entry);
  ASSERT_EQ(code->inlined.size(), 1u);
  EXPECT_EQ(code->inlined[0].function, "main.wrapStamp");
  EXPECT_TRUE(absl::EndsWith(code->inlined[0].call_file, "values/main.go"))
      << code->inlined[0].call_file;
  EXPECT_EQ(code->inlined[0].call_line, 353);
  // Its own first instruction: no inlined call holds it.
  auto entry = r->CodeAt(calls[0].caller_entry);
  ASSERT_TRUE(entry.ok()) << entry.status();
  EXPECT_EQ(entry->function, "main.serveNested");
  EXPECT_THAT(entry->inlined, IsEmpty());
  EXPECT_EQ(r->CodeAt(1).status().code(), absl::StatusCode::kNotFound);
}

// Package variables by their full names, at their link-time addresses.
TEST(DwarfReader, GlobalsAreFoundByTheirFullNames) {
  auto r = OpenValues();
  ASSERT_NE(r, nullptr);
  auto sink = r->Global("main.sink");
  ASSERT_TRUE(sink.ok()) << sink.status();
  EXPECT_EQ(TypeName(*r, sink->type), "int");
  EXPECT_NE(sink->address, 0u);
  auto release = r->Global("main.release");
  ASSERT_TRUE(release.ok()) << release.status();
  EXPECT_EQ(TypeName(*r, release->type), "string");
  EXPECT_NE(release->address, sink->address);
  EXPECT_EQ(r->Global("main.nope").status().code(), absl::StatusCode::kNotFound);
  // By the package's last path element, as Delve's evaluator takes it.
  auto mux = r->Global("http.DefaultServeMux");
  ASSERT_TRUE(mux.ok()) << mux.status();
  auto full = r->Global("net/http.DefaultServeMux");
  ASSERT_TRUE(full.ok()) << full.status();
  EXPECT_EQ(mux->address, full->address);
  EXPECT_EQ(TypeName(*r, mux->type), "*net/http.ServeMux");
  EXPECT_EQ(r->Global("main.handleOrder").status().code(), absl::StatusCode::kNotFound);
}

// The constants of a named integer type, by which Delve names its values; none for a type
// without (and `int`'s, which Delve never uses, are there too).
TEST(DwarfReader, ConstantsAreFoundByTheirType) {
  auto r = OpenValues();
  ASSERT_NE(r, nullptr);
  auto mode = r->TypeByName("main.mode");
  ASSERT_TRUE(mode.ok()) << mode.status();
  std::vector<std::pair<std::string, int64_t>> got;
  for (const Constant& c : r->ConstantsOf(mode->id)) got.emplace_back(c.name, c.value);
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (std::vector<std::pair<std::string, int64_t>>{
                     {"main.modeExec", 4}, {"main.modeRead", 1}, {"main.modeWrite", 2}}));
  auto point = r->TypeByName("main.point");
  ASSERT_TRUE(point.ok()) << point.status();
  EXPECT_TRUE(r->ConstantsOf(point->id).empty());
}

// Which types Go keeps in an interface's data word itself: pointer-shaped ones (the values
// target's main.ref is a struct of one *main.Order), not structs and arrays of other shapes.
TEST(DwarfReader, DirectInterfaceTypesArePointerShaped) {
  auto r = OpenValues();
  ASSERT_NE(r, nullptr);
  auto direct = [&](const std::string& name) -> std::string {
    auto t = r->TypeByName(name);
    if (!t.ok()) return t.status().ToString();
    return IsDirectIface(*r, *t) ? "direct" : "indirect";
  };
  EXPECT_EQ(direct("main.ref"), "direct");
  EXPECT_EQ(direct("*main.Order"), "direct");
  EXPECT_EQ(direct("main.Order"), "indirect");
  EXPECT_EQ(direct("main.label"), "indirect");  // a string and an int
  EXPECT_EQ(direct("main.Describer"), "indirect");
  EXPECT_EQ(direct("[4]uint8"), "indirect");  // validate's digest: 8 bytes, not one pointer
  EXPECT_EQ(direct("[2]int"), "indirect");
  EXPECT_EQ(direct("string"), "indirect");
}

TEST(DwarfReader, NameWithoutTypeParams) {
  EXPECT_EQ(NameWithoutTypeParams("main.sum[go.shape.int]"), "main.sum");
  EXPECT_EQ(NameWithoutTypeParams("main.(*List[go.shape.int]).Push"), "main.(*List).Push");
  EXPECT_EQ(NameWithoutTypeParams("main.Map[go.shape.string,go.shape.[]int]"), "main.Map");
  EXPECT_EQ(NameWithoutTypeParams("main.handleOrder"), "main.handleOrder");
  EXPECT_THAT(FunctionNamesFor("half"), ElementsAre("half", "main.half"));
  EXPECT_THAT(FunctionNamesFor("net/http.(*conn).serve"), ElementsAre("net/http.(*conn).serve"));
}

// A generic function is found by its name without type parameters, as Delve finds it: every
// instantiation (tests/targets/modern-values calls sum with ints and float64s).
TEST(DwarfReader, AGenericFunctionsInstantiations) {
  auto r = DwarfReader::Open(TargetPath("modern-values"));
  ASSERT_TRUE(r.ok()) << r.status();
  std::vector<std::string> inst = (*r)->Instantiations("main.sum");
  std::sort(inst.begin(), inst.end());
  EXPECT_THAT(inst, ElementsAre("main.sum[go.shape.float64]", "main.sum[go.shape.int]"));
  for (const std::string& name : inst) EXPECT_TRUE((*r)->FindFunction(name).ok()) << name;
  // xs is typed by the type parameter's typedef (".param0", DW_AT_go_dict_index): named by the
  // shape beneath, as Delve names it.
  auto fn = (*r)->FindFunction("main.sum[go.shape.int]");
  ASSERT_TRUE(fn.ok()) << fn.status();
  ASSERT_FALSE(fn->params.empty());
  EXPECT_EQ(TypeName(**r, fn->params[0].type), "[]go.shape.int");
  EXPECT_THAT((*r)->Instantiations("main.process"), IsEmpty());  // not generic
}

}  // namespace
}  // namespace kdbg::gobinary
