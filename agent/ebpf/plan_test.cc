#include "agent/ebpf/plan.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/test_env.h"

namespace kdbg::ebpf {
namespace {

delve::TraceScript Parse(const std::string& text) {
  auto s = delve::ParseTraceScript(text, "t.dlv");
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? *s : delve::TraceScript{};
}

TEST(EbpfPlanTest, ParsesFieldChainsAndLen) {
  auto e = ParseExpr("o.Customer.Name");
  ASSERT_TRUE(e.ok());
  EXPECT_FALSE(e->len);
  EXPECT_EQ(e->path, (std::vector<std::string>{"o", "Customer", "Name"}));
  auto l = ParseExpr("len(o.Items)");
  ASSERT_TRUE(l.ok());
  EXPECT_TRUE(l->len);
  EXPECT_EQ(l->path, (std::vector<std::string>{"o", "Items"}));
  auto i = ParseExpr("o.Items[12].Name");
  ASSERT_TRUE(i.ok());
  EXPECT_EQ(i->path, (std::vector<std::string>{"o", "Items", "[12]", "Name"}));
  auto c = ParseExpr("cap(o.Items)");
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c->cap);
  EXPECT_FALSE(c->len);
  EXPECT_EQ(c->path, (std::vector<std::string>{"o", "Items"}));
  EXPECT_FALSE(ParseExpr("cap(o.Items").ok());
  auto g = ParseExpr("len(grid[1][0])");
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->path, (std::vector<std::string>{"grid", "[1]", "[0]"}));
  for (const char* bad : {"o.Items[i]", "o.Items[-1]", "o.Items[]", "o.Items[1", "o.[1]", "[1]",
                          "o.Items[1]x", "o.Items[99999999999999999999]"}) {
    EXPECT_FALSE(ParseExpr(bad).ok()) << bad;
  }
  EXPECT_FALSE(ParseExpr("*p").ok());
  EXPECT_FALSE(ParseExpr("a + b").ok());
  EXPECT_FALSE(ParseExpr("len(x").ok());
}

TEST(EbpfPlanTest, QualifyingScript) {
  EXPECT_EQ(CheckScript(Parse("trace h main.handleOrder\non h print o.ID\non h print len(tag)\n")),
            std::nullopt);
  EXPECT_EQ(CheckScript(Parse("trace handleOrder\n")), std::nullopt);
  // FILE:LINE passes the syntactic check; the compile keeps it only at a function's first line
  // (EbpfEngineTest.AFunctionsFirstLineIsItsEntryAsOnDelve).
  EXPECT_EQ(CheckScript(Parse("trace h main.go:10\non h print r.RemoteAddr\n")), std::nullopt);
  EXPECT_EQ(CheckScript(Parse("trace h /src/hello/main.go:10\n")), std::nullopt);
}

TEST(EbpfPlanTest, DisqualificationNamesTheLine) {
  struct Case {
    std::string script;
    int line;
    std::string reason;
  } cases[] = {
      {"trace h main.go:0\n", 1, "is not traced by eBPF"},
      {"trace h *0x401000\n", 1, "is not traced by eBPF"},
      {"trace h main.f\ncond h x > 1 && y < 2\n", 2, "condition `x > 1 && y < 2`"},
      {"trace h main.f\ncond h f(x) == 1\n", 2, "condition"},
      {"trace h main.f\ncond h s == \"a\\n\"\n", 2, "escapes"},
      {"trace h main.f\ncond h x == y\n", 2, "other than a constant"},
      {"trace h main.f\non h print o.ID\non h print m[\"k\"]\n", 3, "not a parameter"},
  };
  for (const Case& c : cases) {
    auto d = CheckScript(Parse(c.script));
    ASSERT_TRUE(d.has_value()) << c.script;
    EXPECT_EQ(d->line, c.line) << c.script;
    EXPECT_NE(d->reason.find(c.reason), std::string::npos) << d->reason;
  }
}

TEST(EbpfPlanTest, StacksAndHitCountsQualify) {
  EXPECT_EQ(CheckScript(Parse("trace h main.f\non h stack 3\n")), std::nullopt);
  EXPECT_EQ(CheckScript(Parse("trace h main.f\ncond -hitcount h % 100\n")), std::nullopt);
  EXPECT_EQ(CheckScript(Parse("trace h main.go:12\non h stack\non h print x\n")), std::nullopt);
}

TEST(EbpfPlanTest, QualifyingConditions) {
  EXPECT_EQ(CheckScript(Parse("trace h main.handleOrder\ncond h o.ID == 2\n")), std::nullopt);
  EXPECT_EQ(CheckScript(Parse("trace h main.f\ncond h !o.Paid\n")), std::nullopt);
  EXPECT_EQ(CheckScript(Parse("trace h main.f\ncond h len(tag) >= 3\n")), std::nullopt);
}

TEST(EbpfPlanTest, ParsesConditions) {
  auto eq = ParseCond(" o.Customer.Name == \"a b == c\" ");
  ASSERT_TRUE(eq.ok()) << eq.status();
  EXPECT_EQ(eq->operand.path, (std::vector<std::string>{"o", "Customer", "Name"}));
  EXPECT_EQ(eq->op, KDBG_COND_EQ);
  EXPECT_EQ(eq->literal, Cond::Literal::kString);
  EXPECT_EQ(eq->string_value, "a b == c");
  auto lt = ParseCond("len(o.Items)<-0x10");
  ASSERT_TRUE(lt.ok()) << lt.status();
  EXPECT_TRUE(lt->operand.len);
  EXPECT_EQ(lt->op, KDBG_COND_LT);
  EXPECT_EQ(lt->literal, Cond::Literal::kInt);
  EXPECT_EQ(lt->int_value, -16);
  auto big = ParseCond("x >= 18446744073709551615");
  ASSERT_TRUE(big.ok()) << big.status();
  EXPECT_EQ(big->op, KDBG_COND_GE);
  EXPECT_EQ(big->uint_value, UINT64_MAX);
  auto bare = ParseCond("o.Paid");
  ASSERT_TRUE(bare.ok());
  EXPECT_EQ(bare->op, KDBG_COND_NE);
  EXPECT_EQ(bare->literal, Cond::Literal::kBool);
  EXPECT_FALSE(bare->bool_value);
  auto neg = ParseCond("!o.Paid");
  ASSERT_TRUE(neg.ok());
  EXPECT_EQ(neg->op, KDBG_COND_EQ);
  auto nil = ParseCond("o.Customer != nil");
  ASSERT_TRUE(nil.ok());
  EXPECT_EQ(nil->op, KDBG_COND_NE);
  EXPECT_EQ(nil->literal, Cond::Literal::kNil);
  for (const char* bad : {"a || b", "a == ", "a = 1", "a == 1.5", "a == 'x'", "x[i] == 1", "a == b",
                          "a ==  -", "a == \"x\\\"y\""}) {
    EXPECT_FALSE(ParseCond(bad).ok()) << bad;
  }
  EXPECT_FALSE(ParseCond(absl::StrCat("s == \"", std::string(65, 'x'), "\"")).ok());
  EXPECT_TRUE(ParseCond(absl::StrCat("s == \"", std::string(64, 'x'), "\"")).ok());
}

kdbg_slot Ok(uint64_t w0, uint64_t w1 = 0, const std::string& s = "") {
  kdbg_slot v{};
  v.status = KDBG_SLOT_OK;
  v.w0 = w0;
  v.w1 = w1;
  v.n = static_cast<uint32_t>(s.size());
  std::memcpy(v.str, s.data(), s.size());
  return v;
}

Slot MakeSlot(const std::string& name, const std::string& type, SlotFormat format, int size) {
  Slot s;
  s.name = name;
  s.type = type;
  s.format = format;
  s.size = size;
  return s;
}

TEST(EbpfPlanTest, FormatsLikeDelve) {
  Slot str = MakeSlot("r.RemoteAddr", "string", SlotFormat::kString, 8);
  EXPECT_EQ(FormatSlot(str, Ok(0x1000, 15, "127.0.0.1:53422")), "\"127.0.0.1:53422\"");
  EXPECT_EQ(FormatSlot(str, Ok(0x1000, 2, "a\"")), "\"a\\\"\"");
  std::string long64(64, 'x');
  EXPECT_EQ(FormatSlot(str, Ok(0x1000, 100, long64)), "\"" + long64 + "\"...+36 more");
  Slot i8 = MakeSlot("t", "int8", SlotFormat::kSigned, 1);
  EXPECT_EQ(FormatSlot(i8, Ok(0xffffffffffffff85)), "-123");
  EXPECT_EQ(FormatSlot(i8, Ok(0x1234505)), "5");  // garbage above the register's low byte
  Slot u16 = MakeSlot("w", "uint16", SlotFormat::kUnsigned, 2);
  EXPECT_EQ(FormatSlot(u16, Ok(0xabcd0102)), "258");
  Slot b = MakeSlot("ok", "bool", SlotFormat::kBool, 1);
  EXPECT_EQ(FormatSlot(b, Ok(1)), "true");
  EXPECT_EQ(FormatSlot(b, Ok(0x100)), "false");
  Slot p = MakeSlot("o", "*main.Order", SlotFormat::kPointer, 8);
  EXPECT_EQ(FormatSlot(p, Ok(0xc000012345)), "(*main.Order)(0xc000012345)");
  EXPECT_EQ(FormatSlot(p, Ok(0)), "nil");
  kdbg_slot nil{};
  nil.status = KDBG_SLOT_NIL;
  EXPECT_EQ(FormatSlot(str, nil), "(unreadable nil pointer dereference)");
}

// A byte slice (its header, then its first bytes as a string's) and an array (16 bytes a slot),
// as Delve's api.Variable lists their elements: Len, Cap, the first MaxArrayValues.
TEST(EbpfPlanTest, FormatsSlicesAndArraysOfNumbersLikeDelve) {
  using gobinary::GoKind;
  // A print of `type` (an array of `array_len`), its elements of `element` (`size` bytes), in
  // `slots` record slots.
  auto whole = [](const std::string& type, GoKind kind, int64_t array_len, int slots,
                  const std::string& element, SlotFormat format, int size, int max) {
    ValueNode n;
    n.type = type;
    n.kind = kind;
    n.array_len = array_len;
    n.slot = 0;
    n.slots = slots;
    n.element = MakeSlot("", element, format, size);
    n.max_elements = max;
    Slot s = MakeSlot("v", type, SlotFormat::kSliceHeader, 8);
    n.leaf = s;
    s.whole = std::make_shared<ValueNode>(n);
    s.whole_slots = slots;
    return s;
  };
  Slot d = whole("[]uint8", GoKind::kSlice, 0, 2, "uint8", SlotFormat::kUnsigned, 1, 3);
  EXPECT_EQ(FormatWhole(d, {Ok(5, 8), Ok(0x1000, 5, "hello")}),
            "[]uint8 len: 5, cap: 8, [104, 101, 108, ...+2 more]");
  EXPECT_EQ(FormatWhole(d, {Ok(0, 0), Ok(0, 0)}), "[]uint8 len: 0, cap: 0, []");
  EXPECT_EQ(FormatWhole(d, {Ok(5, 8)}), "(unreadable record truncated)");
  Slot p = whole("[2]int16", GoKind::kArray, 2, 1, "int16", SlotFormat::kSigned, 2, 64);
  EXPECT_EQ(FormatWhole(p, {Ok(0x0002fff9)}), "[2]int16 len: 2, cap: 2, [-7, 2]");
  kdbg_slot fault{};
  fault.status = KDBG_SLOT_FAULT;
  fault.w0 = 0x10;
  EXPECT_EQ(FormatWhole(p, {fault}), "(unreadable could not read memory at 0x10)");
}

// A map (Go 1.24+ swiss tables): its pointer, then a MAP that finds its entries as Delve iterates
// them and reads each by the subprogram of the runtime's slot struct {key string; elem int} (24
// bytes: groups of 200), 64 printed, 16 as an argument; a record's entries formatted as Delve
// prints them.
TEST(EbpfPlanTest, MapsReadTheirEntriesAsDelveIteratesThem) {
  auto dwarf = gobinary::DwarfReader::Open(kdbg::testing::TargetPath("values"));
  ASSERT_TRUE(dwarf.ok()) << dwarf.status();
  auto plan = CompilePlan(Parse("trace b main.browse\non b print m\n"), "t.dlv", **dwarf);
  ASSERT_TRUE(plan.ok()) << plan.status();
  const ProbePlan& b = plan->probes[0];
  ASSERT_EQ(b.vars.size(), 1u);
  const Slot& m = b.vars[0];
  ASSERT_NE(m.whole, nullptr);
  EXPECT_EQ(m.whole->slot, 0);
  EXPECT_EQ(m.whole->region, 1);
  EXPECT_EQ(m.whole->element_slots, 2);  // the key's string, the element's int
  EXPECT_EQ(m.whole->max_elements, 64);
  EXPECT_EQ(m.whole_slots, 2);
  std::vector<kdbg_op> maps;
  for (const kdbg_op& op : b.ops) {
    if (op.code == KDBG_OP_MAP) maps.push_back(op);
  }
  ASSERT_EQ(maps.size(), 2u);  // the print's and the argument's
  EXPECT_EQ(maps[0].slot, 0);
  EXPECT_EQ(maps[0].off, 1);
  EXPECT_EQ(maps[0].a, 2);
  EXPECT_EQ(maps[0].imm >> 56, 64u);
  EXPECT_EQ((maps[0].imm >> 32) & 0xffffff, 24u);  // struct { key string; elem int }
  EXPECT_EQ(maps[1].imm >> 56, 16u);
  ASSERT_EQ(b.args.size(), 1u);
  ASSERT_NE(b.args[0].whole, nullptr);
  EXPECT_EQ(b.args[0].whole->max_elements, 16);

  // A record: the pointer, the MAP's slot (the length, where the entries start, how many were
  // read), the entries from slot 40.
  std::vector<kdbg_slot> record(KDBG_MAX_SLOTS);
  auto format = [&](const std::vector<kdbg_slot>& r) {
    return FormatWhole(m, absl::MakeConstSpan(r).subspan(0, 2), nullptr, r);
  };
  record[0] = Ok(0xc000100000, 0);
  record[1] = Ok(3, 40);
  record[1].n = 3;
  record[40] = Ok(0xc000200000, 2, "k0");
  record[41] = Ok(0);
  record[42] = Ok(0xc000200002, 2, "k1");
  record[43] = Ok(3);
  record[44] = Ok(0xc000200004, 2, "k2");
  record[45] = Ok(static_cast<uint64_t>(-6));
  EXPECT_EQ(format(record), "map[string]int [\"k0\": 0, \"k1\": 3, \"k2\": -6]");
  record[1].n = 2;  // the record had room for two
  EXPECT_EQ(format(record), "map[string]int [\"k0\": 0, \"k1\": 3, ...+1 more]");
  record[1] = Ok(0, 40);
  EXPECT_EQ(format(record), "map[string]int []");
  record[0] = Ok(0, 0);
  EXPECT_EQ(format(record), "map[string]int nil");
  kdbg_slot fault{};
  fault.status = KDBG_SLOT_FAULT;
  fault.w0 = 0xc000100000;
  record[0] = Ok(0xc000100000, 0);
  record[1] = fault;
  EXPECT_EQ(format(record), "(unreadable could not read memory at 0xc000100000)");
  record[1] = kdbg_slot{};  // the hit's steps ran out before the MAP was done
  EXPECT_EQ(format(record), "(unreadable not evaluated)");

  // Maps of structs, interfaces, slices and maps are read.
  auto stock = CompilePlan(Parse("trace s main.stock\non s print byID\non s print errs\n"
                                 "on s print tags\n"),
                           "t.dlv", **dwarf);
  ASSERT_TRUE(stock.ok()) << stock.status();
  ASSERT_EQ(stock->probes[0].vars.size(), 3u);
  for (const Slot& v : stock->probes[0].vars) {
    ASSERT_NE(v.whole, nullptr) << v.name;
    EXPECT_EQ(v.whole->kind, gobinary::GoKind::kMap) << v.name;
    EXPECT_GT(v.whole->element_slots, 0) << v.name;
  }
  auto nested = CompilePlan(Parse("trace b main.browse\non b print shelves\n"), "t.dlv", **dwarf);
  ASSERT_TRUE(nested.ok()) << nested.status();
  int map_ops = 0;
  for (const kdbg_op& op : nested->subprograms->ops) map_ops += op.code == KDBG_OP_MAP ? 1 : 0;
  EXPECT_EQ(map_ops, 1) << "the inner map's, in the outer's entry subprogram";
}

// A slice of strings printed (up to 64 elements, Delve's MaxArrayValues for a print) and as an
// argument (16): its header, its data pointer, then an EACH (probe_abi.h) running its element
// type's subprogram once per element, a slot each, in the record's slots past the probe's own; a
// slice of numbers: its elements' bytes, 64 to a slot. Formatted from a record as the Delve engine
// formats Delve's, with Delve's own limits (a nil base with a length, at most maxErrCount
// unreadable elements) and the record's (the elements that fit, then "...+N more").
TEST(EbpfPlanTest, SlicesReadTheirElementsAsDelveLoadsThem) {
  auto dwarf = gobinary::DwarfReader::Open(kdbg::testing::TargetPath("values"));
  ASSERT_TRUE(dwarf.ok()) << dwarf.status();
  auto plan = CompilePlan(Parse("trace b main.basket\non b print names\non b print qtys\n"),
                          "t.dlv", **dwarf);
  ASSERT_TRUE(plan.ok()) << plan.status();
  const ProbePlan& b = plan->probes[0];
  ASSERT_EQ(b.vars.size(), 2u);
  const Slot& names = b.vars[0];
  ASSERT_NE(names.whole, nullptr);
  EXPECT_EQ(names.whole->slot, 0);
  EXPECT_EQ(names.whole->region, 1);
  EXPECT_EQ(names.whole->element_slots, 1);
  EXPECT_EQ(names.whole->max_elements, 64);
  EXPECT_EQ(names.whole_slots, 2);  // the elements are past the probe's own slots
  std::vector<kdbg_op> each;
  for (const kdbg_op& op : b.ops) {
    if (op.code == KDBG_OP_EACH) each.push_back(op);
  }
  ASSERT_EQ(each.size(), 2u);  // the print's and the argument's
  EXPECT_EQ(each[0].slot, 0);
  EXPECT_EQ(each[0].off, 1);
  EXPECT_EQ(each[0].a, 1);
  EXPECT_EQ(each[0].imm >> 56, 64u);
  EXPECT_EQ((each[0].imm >> 32) & 0xffffff, 16u);  // a string header's size
  EXPECT_EQ(each[1].imm >> 56, 16u);
  // The element's subprogram: the string at the element's address, then RET.
  const Subprograms& sub = *plan->subprograms;
  const uint32_t pc = static_cast<uint32_t>(each[0].imm) - KDBG_MAX_OPS;
  std::vector<uint8_t> codes;
  for (size_t k = pc; k < sub.ops.size(); ++k) {
    codes.push_back(sub.ops[k].code);
    if (sub.ops[k].code == KDBG_OP_RET) break;
  }
  EXPECT_THAT(codes, ::testing::ElementsAre(KDBG_OP_ALT, KDBG_OP_REG, KDBG_OP_LOAD2, KDBG_OP_STR,
                                            KDBG_OP_END, KDBG_OP_RET));
  // qtys: its header, then 8 slots of 64 bytes (64 elements of 8 bytes).
  const Slot& qtys = b.vars[1];
  ASSERT_NE(qtys.whole, nullptr);
  EXPECT_EQ(qtys.whole->element_slots, 0);
  EXPECT_EQ(qtys.whole_slots, 1 + 8);
  ASSERT_GE(b.args.size(), 1u);
  ASSERT_NE(b.args[0].whole, nullptr);
  EXPECT_EQ(b.args[0].whole_slots, 2);

  // A record: the header, the data slot (its EACH wrote where the elements start and how many it
  // read), the elements from slot 40.
  std::vector<kdbg_slot> record(KDBG_MAX_SLOTS);
  auto format = [&](const std::vector<kdbg_slot>& r) {
    return FormatWhole(names, absl::MakeConstSpan(r).subspan(0, 2), nullptr, r);
  };
  record[0] = Ok(3, 4);
  record[1] = Ok(0xc000100000, 40);
  record[1].n = 3;
  record[40] = Ok(0xc000200000, 1, "a");
  record[41] = Ok(0xc000200001, 1, "b");
  record[42] = Ok(0xc000200002, 70, std::string(64, 'c'));
  EXPECT_EQ(format(record), absl::StrCat("[]string len: 3, cap: 4, [\"a\", \"b\", \"",
                                         std::string(64, 'c'), "\"...+6 more]"));
  record[1].n = 2;  // the record had room for two
  EXPECT_EQ(format(record), "[]string len: 3, cap: 4, [\"a\", \"b\", ...+1 more]");
  record[0] = Ok(2, 2);
  record[1] = Ok(0, 40);
  EXPECT_EQ(format(record), "(unreadable non-zero length array with nil base)");
  kdbg_slot fault{};
  fault.status = KDBG_SLOT_FAULT;
  fault.w0 = 0x10;
  record[0] = Ok(6, 6);
  record[1] = Ok(0xc000100000, 40);
  record[1].n = 6;
  for (size_t k = 40; k < 46; ++k) record[k] = fault;
  const std::string unreadable = "(unreadable could not read memory at 0x10)";
  EXPECT_EQ(format(record), absl::StrCat("[]string len: 6, cap: 6, [", unreadable, ", ", unreadable,
                                         ", ", unreadable, ", ", unreadable, ", ...+2 more]"));
  // Ten numbers: eight in the first chunk, two in the second.
  std::vector<kdbg_slot> numbers(9);
  std::string bytes(80, '\0');
  std::vector<std::string> want;
  for (int i = 0; i < 10; ++i) {
    const int64_t q = i * 10 - 5;
    std::memcpy(bytes.data() + 8 * i, &q, 8);
    want.push_back(absl::StrCat(q));
  }
  numbers[0] = Ok(10, 12);
  numbers[1] = Ok(0xc000300000, 10, bytes.substr(0, 64));
  numbers[2] = Ok(0xc000300000, 10, bytes.substr(64));
  for (size_t k = 3; k < numbers.size(); ++k) numbers[k] = Ok(0xc000300000, 10);  // past 80
  EXPECT_EQ(FormatWhole(qtys, numbers),
            absl::StrCat("[]int len: 10, cap: 12, [", absl::StrJoin(want, ", "), "]"));
}

// An integer of a named type with constants, as Delve describes it (proc.(*constantType).describe):
// by the constant equal to it, else as the single-bit constants that make all of it, else alone.
TEST(EbpfPlanTest, FormatsIntegersByTheirTypesConstantsLikeDelve) {
  Slot m = MakeSlot("m", "main.mode", SlotFormat::kUnsigned, 1);
  m.constants = std::make_shared<const std::vector<gobinary::Constant>>(
      std::vector<gobinary::Constant>{{"modeRead", 1}, {"modeWrite", 2}, {"modeExec", 4}});
  EXPECT_EQ(FormatSlot(m, Ok(4)), "modeExec (4)");
  EXPECT_EQ(FormatSlot(m, Ok(0x103)), "modeRead|modeWrite (3)");  // the byte's bits only
  EXPECT_EQ(FormatSlot(m, Ok(0)), "0");
  EXPECT_EQ(FormatSlot(m, Ok(9)), "9");  // 8 is no constant's
  Slot s = MakeSlot("s", "main.state", SlotFormat::kSigned, 8);
  s.constants = std::make_shared<const std::vector<gobinary::Constant>>(
      std::vector<gobinary::Constant>{{"stopped", -1}, {"idle", 0}, {"busy", 3}});
  EXPECT_EQ(FormatSlot(s, Ok(0)), "idle (0)");
  EXPECT_EQ(FormatSlot(s, Ok(static_cast<uint64_t>(-1))), "stopped (-1)");
  EXPECT_EQ(FormatSlot(s, Ok(1)), "1");  // 3 is not a single bit
}

// A value printed whole, as the Delve engine formats what Delve loads for a print: a pointer's
// target and a struct's fields, a nil pointer's target (never loaded), a pointer to a pointer
// shown by its address, a struct past MaxVariableRecurse (its field count only), and slots a
// record was cut before.
TEST(EbpfPlanTest, FormatsWholeValuesLikeDelve) {
  using gobinary::GoKind;
  auto node = [](const std::string& name, const std::string& type, GoKind kind, int slot,
                 SlotFormat format = SlotFormat::kPointer) {
    ValueNode n;
    n.name = name;
    n.type = type;
    n.kind = kind;
    n.slot = slot;
    n.leaf = MakeSlot(name, type, format, 8);
    return n;
  };
  ValueNode target = node("", "main.node", GoKind::kStruct, -1);
  target.fields = 4;  // loaded: its fields are its children
  target.children.push_back(node("Name", "string", GoKind::kString, 1, SlotFormat::kString));
  ValueNode next = node("Next", "*main.node", GoKind::kPtr, 2);
  next.children.push_back(node("", "main.node", GoKind::kStruct, -1));
  target.children.push_back(next);
  ValueNode at = node("At", "main.point", GoKind::kStruct, -1);
  at.fields = 2;  // not loaded: no children
  target.children.push_back(at);
  ValueNode owner = node("Owner", "**main.Customer", GoKind::kPtr, 3);
  owner.only_addr = true;
  owner.children.push_back(node("", "*main.Customer", GoKind::kPtr, -1));
  target.children.push_back(owner);
  Slot n = MakeSlot("n", "*main.node", SlotFormat::kPointer, 8);
  ValueNode root = node("", "*main.node", GoKind::kPtr, 0);
  root.children.push_back(target);
  n.whole = std::make_shared<ValueNode>(std::move(root));
  n.whole_slots = 4;
  const std::vector<kdbg_slot> values = {Ok(0xc000010000), Ok(0x1000, 70, "root"), Ok(0),
                                         Ok(0xc000020000)};
  EXPECT_EQ(FormatWhole(n, values),
            "*main.node {Name: \"root\"...+66 more, Next: nil, At: main.point {...+2 "
            "more}, Owner: (**main.Customer)(0xc000020000)}");
  EXPECT_EQ(FormatWhole(n, absl::MakeConstSpan(values).subspan(0, 2)),
            "*main.node {Name: \"root\"...+66 more, Next: (unreadable record truncated), At: "
            "main.point {...+2 more}, Owner: (unreadable record truncated)}");
  EXPECT_EQ(FormatWhole(n, {Ok(0)}), "nil");
  kdbg_slot fault{};
  fault.status = KDBG_SLOT_FAULT;
  fault.w0 = 0x10;
  EXPECT_EQ(FormatWhole(n, {Ok(0xc000010000), fault, Ok(0), Ok(0)}),
            "*main.node {Name: (unreadable could not read memory at 0x10), Next: nil, "
            "At: main.point {...+2 more}, Owner: nil}");
}

// Interfaces as the Delve engine prints them (agent/delve/hit_format.cc on Delve's api.Variable:
// "io.Writer((*net/http.response)(0xc000...))", "error nil", "main.Describer((*main.Order)(nil))"),
// the dynamic type found by its itab; a type that is not a pointer is named, its value elided.
TEST(EbpfPlanTest, FormatsInterfacesByTheirItab) {
  Slot d = MakeSlot("d", "main.Describer", SlotFormat::kInterface, 16);
  d.dynamic_types = std::make_shared<const std::vector<DynamicType>>(
      std::vector<DynamicType>{{0x724e80, "*main.Order", gobinary::GoKind::kPtr},
                               {0x725060, "main.label", gobinary::GoKind::kStruct},
                               {0x7251a0, "main.code", gobinary::GoKind::kInt}});
  EXPECT_EQ(FormatSlot(d, Ok(0, 0)), "main.Describer nil");
  EXPECT_EQ(FormatSlot(d, Ok(0x724e80, 0xc000012345)),
            "main.Describer((*main.Order)(0xc000012345))");
  EXPECT_EQ(FormatSlot(d, Ok(0x724e80, 0)), "main.Describer((*main.Order)(nil))");
  EXPECT_EQ(FormatSlot(d, Ok(0x725060, 0xc0000aa000)), "main.Describer(main.label {...})");
  EXPECT_EQ(FormatSlot(d, Ok(0x7251a0, 0xc0000aa000)), "main.Describer(main.code ...)");
  EXPECT_EQ(FormatSlot(d, Ok(0x725061, 0xc0000aa000)),
            "main.Describer((unreadable dynamic type at 0x725061, not in the binary's itab symbols "
            "or DWARF))");
  kdbg_slot fault{};
  fault.status = KDBG_SLOT_FAULT;
  fault.w0 = 0x10;
  EXPECT_EQ(FormatSlot(d, fault), "(unreadable could not read memory at 0x10)");
}

// A field chain through an interface holding a type it was not compiled for: the guard that
// missed carries the type's descriptor, named by the slot's table of them.
TEST(EbpfPlanTest, NamesTheDynamicTypeAFieldChainWasNotCompiledFor) {
  Slot text = MakeSlot("d.Text", "string", SlotFormat::kString, 8);
  kdbg_slot no_type{};
  no_type.status = KDBG_SLOT_NO_TYPE;
  no_type.w0 = 0x6d6100;
  EXPECT_EQ(FormatSlot(text, no_type), "(unreadable dynamic type at 0x6d6100 not compiled)");
  text.guard_types = std::make_shared<const std::vector<DynamicType>>(
      std::vector<DynamicType>{{0x6d6000, "main.label", gobinary::GoKind::kStruct},
                               {0x6d6100, "*main.memo", gobinary::GoKind::kPtr}});
  EXPECT_EQ(FormatSlot(text, no_type),
            "(unreadable dynamic type *main.memo is not one this expression was compiled for)");
  no_type.w0 = 0;
  EXPECT_EQ(FormatSlot(text, no_type), "(unreadable nil interface)");
}

// Floats as Delve prints them: strconv.FormatFloat(f, 'f', -1, bits), Inf and NaN by name.
TEST(EbpfPlanTest, FormatsFloatsLikeDelve) {
  auto f64 = [](double d) {
    uint64_t w;
    std::memcpy(&w, &d, 8);
    return FormatSlot(MakeSlot("f", "float64", SlotFormat::kFloat, 8), Ok(w));
  };
  auto f32 = [](float f) {
    uint32_t w;
    std::memcpy(&w, &f, 4);
    // The word above the float's 4 bytes is whatever LOAD zero-extended or the register held.
    return FormatSlot(MakeSlot("f", "float32", SlotFormat::kFloat, 4), Ok(0xdead000000000000 | w));
  };
  EXPECT_EQ(f64(0.1), "0.1");
  EXPECT_EQ(f64(-0.0), "0");  // Delve's value goes through go/constant, which has no -0
  EXPECT_EQ(f64(-2.5), "-2.5");
  EXPECT_EQ(f64(123456.789), "123456.789");
  EXPECT_EQ(f64(1e21), "1000000000000000000000");
  EXPECT_EQ(f64(5e-324), absl::StrCat("0.", std::string(323, '0'), "5"));
  EXPECT_EQ(f64(std::numeric_limits<double>::quiet_NaN()), "NaN");
  EXPECT_EQ(f64(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(f64(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(f32(0.1F), "0.1");
  EXPECT_EQ(f32(1e21F), "1000000000000000000000");  // the shortest digits, not the exact value
  EXPECT_EQ(f32(123456.789F), "123456.79");
  EXPECT_EQ(f32(std::numeric_limits<float>::max()), "340282350000000000000000000000000000000");
  EXPECT_EQ(f32(-std::numeric_limits<float>::infinity()), "-Inf");
}

TEST(EbpfPlanTest, FormatsASliceArgumentByItsHeader) {
  Slot items = MakeSlot("items", "[]string", SlotFormat::kSliceHeader, 24);
  EXPECT_EQ(FormatSlot(items, Ok(3, 4)), "[]string len: 3, cap: 4, [...]");
  EXPECT_EQ(FormatSlot(items, Ok(0, 8)), "[]string len: 0, cap: 8, []");  // as Delve prints it
}

// The record carries vars, then the args and results that are read; an unread one takes no slot.
TEST(EbpfPlanTest, RecordSlotsSkipUnreadValues) {
  ProbePlan pp;
  pp.vars = {MakeSlot("r.Host", "string", SlotFormat::kString, 16)};
  pp.args = {MakeSlot("w", "io.Writer", SlotFormat::kInterface, 16),
             MakeSlot("o", "main.Order", SlotFormat::kSigned, 8),
             MakeSlot("n", "int", SlotFormat::kSigned, 8)};
  pp.args[1].unread = "(unreadable main.Order values are not read by the eBPF engine)";
  EXPECT_EQ(pp.RecordSlots(), 3u);
  pp.results = {MakeSlot("~r0", "int", SlotFormat::kSigned, 8)};
  pp.results.push_back(pp.args[1]);
  EXPECT_EQ(pp.RecordSlots(), 4u);
}

// Every tracepoint's calls are armed; return probes only while they fit in KDBG_MAX_PROBES, and
// those that do not are named in a note. On the values target main.clampQty has two call probes
// (its body and one inlined call) and two RETs; sync.(*Mutex).Lock is inlined at 66 calls (Go
// 1.26.8's runtime and library), without returns.
TEST(EbpfPlanTest, ReturnsThatDoNotFitAreNamedNotDropped) {
  auto dwarf = gobinary::DwarfReader::Open(kdbg::testing::TargetPath("values"));
  ASSERT_TRUE(dwarf.ok()) << dwarf.status();
  std::string text;
  for (int i = 1; i <= 63; ++i) absl::StrAppend(&text, "trace c", i, " main.clampQty\n");
  absl::StrAppend(&text, "trace m sync.(*Mutex).Lock\n");
  auto plan = CompilePlan(Parse(text), "t.dlv", **dwarf);
  ASSERT_TRUE(plan.ok()) << plan.status();
  size_t calls = 0, returns = 0;
  std::vector<std::string> with_returns;
  for (const ProbePlan& p : plan->probes) {
    if (!p.is_return) {
      ++calls;
      EXPECT_EQ(returns, 0u) << "call probes come first";
    } else {
      ++returns;
      if (with_returns.empty() || with_returns.back() != p.tracepoint) {
        with_returns.push_back(p.tracepoint);
      }
      EXPECT_EQ(plan->probes[p.entry].tracepoint, p.tracepoint);
    }
  }
  ASSERT_GE(calls, 63u * 2 + 2);  // the binary decides Lock's count; the test needs some
  ASSERT_LE(calls, size_t{KDBG_MAX_PROBES});
  EXPECT_LE(plan->probes.size(), size_t{KDBG_MAX_PROBES});
  // Returns in script order while they fit: c1, c2, ... then the rest named.
  const size_t fit = (KDBG_MAX_PROBES - calls) / 2;
  ASSERT_LT(fit, 63u);
  ASSERT_EQ(with_returns.size(), fit);
  EXPECT_EQ(with_returns.back(), absl::StrCat("c", fit));
  ASSERT_EQ(plan->notes.size(), 1u);
  EXPECT_EQ(plan->notes[0].rfind(absl::StrCat("returns not reported for t.dlv:", fit + 1,
                                              " main.clampQty, t.dlv:", fit + 2, " main.clampQty"),
                                 0),
            0u)
      << plan->notes[0];
  EXPECT_TRUE(absl::EndsWith(plan->notes[0],
                             "t.dlv:63 main.clampQty (their RET probes would pass the 256 probes "
                             "the eBPF engine arms)"))
      << plan->notes[0];
}

// A hit condition and a stack compile into the call probes: the comparison the BPF program makes
// with the tracepoint's count; the frame the stack starts from (where Delve breaks, and the CFA
// at the probe) and the goroutine's stack top it stops at. With a hit condition, as with a
// condition, the returns reported are the reported calls'.
TEST(EbpfPlanTest, HitConditionsAndStacksCompileIntoTheCallProbes) {
  auto dwarf = gobinary::DwarfReader::Open(kdbg::testing::TargetPath("values"));
  ASSERT_TRUE(dwarf.ok()) << dwarf.status();
  auto plan = CompilePlan(Parse("trace r main.recurse\ncond -hitcount r % 3\non r stack 4\n"
                                "trace s main.go:166\ncond -hitcount s >= 2\n"),
                          "t.dlv", **dwarf);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->stack_hi_offset, 8u);
  auto fn = (*dwarf)->FindFunction("main.recurse");
  ASSERT_TRUE(fn.ok()) << fn.status();
  auto after = (*dwarf)->AfterPrologue(*fn);
  ASSERT_TRUE(after.ok() && after->has_value());
  int returns = 0;
  for (const ProbePlan& p : plan->probes) {
    SCOPED_TRACE(absl::StrCat(p.tracepoint, p.is_return ? " ret" : ""));
    if (p.is_return) {
      ++returns;
      EXPECT_EQ(p.hit_op, KDBG_COND_NONE);
      EXPECT_EQ(p.stack_depth, 0);
      EXPECT_EQ(p.track, KDBG_TRACK_RETURN);
    } else if (p.tracepoint == "r") {
      EXPECT_EQ(p.hit_op, KDBG_COND_REM);
      EXPECT_EQ(p.hit_val, 3u);
      EXPECT_EQ(p.stack_depth, 4);
      EXPECT_EQ(p.report_pc, **after);
      EXPECT_EQ(p.cfa_rsp, 8);  // on the stack check: nothing pushed yet
      EXPECT_EQ(p.track, KDBG_TRACK_CALL);
    } else {
      EXPECT_EQ(p.hit_op, KDBG_COND_GE);
      EXPECT_EQ(p.hit_val, 2u);
      EXPECT_EQ(p.stack_depth, 0);
      EXPECT_EQ(p.report_pc, p.address);
      EXPECT_GT(p.cfa_rsp, 8);  // in serveOrder's body: its frame
    }
  }
  EXPECT_GT(returns, 0);
}

// A conditional tracepoint's returns are paired with its reported calls (probe_abi.h,
// kdbg_track): its out-of-line entry records them, its return probes look them up; its inlined
// calls (no RET) record nothing; a tracepoint without a condition reports every return.
TEST(EbpfPlanTest, AConditionalTracepointsReturnsTrackItsCalls) {
  auto dwarf = gobinary::DwarfReader::Open(kdbg::testing::TargetPath("values"));
  ASSERT_TRUE(dwarf.ok()) << dwarf.status();
  auto plan = CompilePlan(Parse("trace c main.clampQty\ncond c qty > 2\n"
                                "trace s main.summarize\n"),
                          "t.dlv", **dwarf);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->stack_hi_offset, 8u);  // runtime.g.stack.hi in every Go release so far
  EXPECT_TRUE(plan->notes.empty());
  std::vector<std::string> probes;
  for (const ProbePlan& p : plan->probes) {
    probes.push_back(absl::StrCat(p.tracepoint, p.is_return ? " ret" : "",
                                  p.caller.empty() ? "" : " inlined", " track=", p.track,
                                  " entry=", p.entry));
  }
  // --no-returns: calls only.
  auto calls_only = CompilePlan(Parse("trace c main.clampQty\ncond c qty > 2\n"
                                      "trace s main.summarize\n"),
                                "t.dlv", **dwarf, std::nullopt, /*returns=*/false);
  ASSERT_TRUE(calls_only.ok()) << calls_only.status();
  ASSERT_EQ(calls_only->probes.size(), 3u);
  for (const ProbePlan& p : calls_only->probes) {
    EXPECT_FALSE(p.is_return);
    EXPECT_EQ(p.track, KDBG_TRACK_NONE);
  }
  EXPECT_EQ(probes, (std::vector<std::string>{"c track=1 entry=0", "c inlined track=0 entry=0",
                                              "s track=0 entry=2", "c ret track=2 entry=0",
                                              "c ret track=2 entry=0", "s ret track=0 entry=2",
                                              "s ret track=0 entry=2"}));
}

// A field chain through an interface guards on the dynamic type's descriptor (an itab's Type
// word), so a type whose itab the runtime makes (*main.memo: no go:itab symbol) is read too; the
// types of the itab symbols come first. Through an empty interface, every type with the field.
TEST(EbpfPlanTest, AFieldThroughAnInterfaceIsToldByItsTypeDescriptor) {
  auto dwarf = gobinary::DwarfReader::Open(kdbg::testing::TargetPath("values"));
  ASSERT_TRUE(dwarf.ok()) << dwarf.status();
  absl::flat_hash_map<std::string, uint64_t> address;
  absl::flat_hash_map<uint64_t, std::string> name;
  for (const gobinary::RuntimeType& r : (*dwarf)->RuntimeTypes()) {
    address[r.name] = r.address;
    name[r.address] = r.name;
  }
  for (const gobinary::Itab& itab : (*dwarf)->ItabsFor("main.Describer")) {
    EXPECT_TRUE(address.contains(itab.concrete)) << itab.concrete << " has no runtime type";
  }
  auto plan = CompilePlan(Parse("trace h main.handleOrder\non h print d.Memo\non h print d.Text\n"
                                "trace v main.validate\non v print extra.Note\n"),
                          "t.dlv", **dwarf);
  ASSERT_TRUE(plan.ok()) << plan.status();
  auto guards = [&](const ProbePlan& pp, uint16_t slot) {
    std::vector<std::string> out;
    for (const kdbg_op& op : pp.ops) {
      if (op.code == KDBG_OP_GUARD && op.slot == slot) out.push_back(name[op.imm]);
    }
    return out;
  };
  const ProbePlan& h = plan->probes[0];
  ASSERT_EQ(h.function.name, "main.handleOrder");
  // No itab symbol pairs *main.memo with main.Describer; the binary also has main.memo's own
  // descriptor (as the element of *main.memo's).
  EXPECT_THAT(guards(h, 0), ::testing::ElementsAre("*main.memo", "main.memo"));
  // The itab symbol's type first, then the others with a Text field, by name.
  const std::vector<std::string> text = guards(h, 1);
  ASSERT_FALSE(text.empty());
  EXPECT_EQ(text[0], "main.label");
  EXPECT_TRUE(std::is_sorted(text.begin() + 1, text.end())) << ::testing::PrintToString(text);
  ASSERT_NE(h.vars[0].guard_types, nullptr);
  const ProbePlan& v = plan->probes[1];
  ASSERT_EQ(v.function.name, "main.validate");
  EXPECT_THAT(guards(v, 0), ::testing::IsSupersetOf({"*main.Order", "main.stickyNote"}));
}

// `print err` of a non-empty interface: its words, then a CALL (probe_abi.h) into the region
// after them, where the subprogram of its dynamic type (one per type and variant, shared by the
// plan's probes) reads the value as Delve loads it; a wrapped error's own interface CALLs again,
// one level down; a slice in one (a *main.Order's Items) EACHes. Formatted from a record as the
// Delve engine formats Delve's.
TEST(EbpfPlanTest, InterfacesCallTheSubprogramsOfTheirDynamicTypes) {
  auto dwarf = gobinary::DwarfReader::Open(kdbg::testing::TargetPath("values"));
  ASSERT_TRUE(dwarf.ok()) << dwarf.status();
  absl::flat_hash_map<std::string, uint64_t> descriptor;
  for (const gobinary::RuntimeType& r : (*dwarf)->RuntimeTypes()) descriptor[r.name] = r.address;
  uint64_t itab = 0;
  for (const gobinary::Itab& i : (*dwarf)->ItabsFor("error")) {
    if (i.concrete == "*errors.errorString") itab = i.address;
  }
  ASSERT_NE(itab, 0u);
  auto plan =
      CompilePlan(Parse("trace r main.report\non r print err\non r print d\n"), "t.dlv", **dwarf);
  ASSERT_TRUE(plan.ok()) << plan.status();
  const ProbePlan& r = plan->probes[0];
  ASSERT_EQ(r.vars.size(), 2u);
  const Slot& err = r.vars[0];
  ASSERT_NE(err.whole, nullptr);
  EXPECT_EQ(err.whole->kind, gobinary::GoKind::kInterface);
  EXPECT_EQ(err.whole->slot, 0);
  EXPECT_EQ(err.whole->region, 1);
  EXPECT_EQ(err.whole_slots, 1 + err.whole->region_slots);
  std::vector<kdbg_op> calls;
  for (const kdbg_op& op : r.ops) {
    if (op.code == KDBG_OP_CALL) calls.push_back(op);
  }
  ASSERT_EQ(calls.size(), 4u);  // err's and d's prints, then the arguments err and d
  EXPECT_EQ(calls[0].slot, 0);
  EXPECT_EQ(calls[0].off, 1);
  EXPECT_EQ(calls[0].a, KDBG_CALL_ITAB | err.whole->region_slots);
  EXPECT_EQ(calls[1].slot, err.whole_slots);
  // The arguments' variant: loaded as Delve lists arguments (pointers not followed).
  EXPECT_NE(calls[2].imm, calls[0].imm);
  ASSERT_NE(r.args[0].whole, nullptr);
  EXPECT_EQ(calls[2].imm, r.args[0].whole->variant);
  const Subprograms& sub = *plan->subprograms;
  const uint32_t top = err.whole->variant;
  for (const char* t : {"*errors.errorString", "*fmt.wrapError", "main.fault", "*main.badInput",
                        "main.errCode", "main.label"}) {
    const DynamicValue* v = sub.Find(top, descriptor[t]);
    ASSERT_NE(v, nullptr) << t;
    EXPECT_EQ(v->data.type, t);
    EXPECT_LE(v->slots, err.whole->region_slots) << t << " does not fit the region it is for";
  }
  // *main.Order's Items (a []string) is read element by element (EACH), past the probe's slots.
  const DynamicValue* order = sub.Find(top, descriptor["*main.Order"]);
  ASSERT_NE(order, nullptr);
  bool each = false;
  for (size_t k = order->pc; sub.ops[k].code != KDBG_OP_RET; ++k) {
    each |= sub.ops[k].code == KDBG_OP_EACH;
  }
  EXPECT_TRUE(each);
  // The wrapped error's field: a CALL one level down, to its types' subprograms there.
  const DynamicValue* wrap = sub.Find(top, descriptor["*fmt.wrapError"]);
  bool nested = false;
  for (size_t k = wrap->pc; sub.ops[k].code != KDBG_OP_RET; ++k) {
    if (sub.ops[k].code == KDBG_OP_CALL) {
      nested = true;
      EXPECT_NE(sub.Find(static_cast<uint32_t>(sub.ops[k].imm), descriptor["*errors.errorString"]),
                nullptr);
    }
  }
  EXPECT_TRUE(nested);

  // A record: the words, the descriptor the CALL wrote, the pointer, the string.
  const uint64_t es = descriptor["*errors.errorString"];
  std::vector<kdbg_slot> values(static_cast<size_t>(err.whole_slots));
  values[0] = Ok(itab, 0xc000010000);
  values[1] = Ok(es);
  values[2] = Ok(0xc000010000);
  values[3] = Ok(0xc000020000, 4, "boom");
  EXPECT_EQ(FormatWhole(err, values), "error(*errors.errorString {s: \"boom\"})");
  values[2] = Ok(0);  // a typed nil pointer
  EXPECT_EQ(FormatWhole(err, values), "error((*errors.errorString)(nil))");
  values[0] = Ok(0, 0);
  EXPECT_EQ(FormatWhole(err, values), "error nil");
  // No subprogram ran (a type not compiled): the words, by the itab.
  values[0] = Ok(itab, 0xc000010000);
  values[1].status = KDBG_SLOT_NO_TYPE;
  EXPECT_EQ(FormatWhole(err, values), "error((*errors.errorString)(0xc000010000))");
}

// An empty interface printed (or an argument): a CALL by its type word (no KDBG_CALL_ITAB) to the
// subprograms of the binary's scalar types, each reading one slot behind the data word; the types
// of one size and kind share their ops (int and main.errCode's cousins: only the slot formats
// differ). A dynamic type with no subprogram prints its words, named by its descriptor.
TEST(EbpfPlanTest, EmptyInterfacesCallTheSubprogramsOfScalarTypes) {
  auto dwarf = gobinary::DwarfReader::Open(kdbg::testing::TargetPath("values"));
  ASSERT_TRUE(dwarf.ok()) << dwarf.status();
  absl::flat_hash_map<std::string, uint64_t> descriptor;
  int scalars = 0;
  for (const gobinary::RuntimeType& r : (*dwarf)->RuntimeTypes()) {
    descriptor[r.name] = r.address;
    const gobinary::GoKind k = r.kind;
    scalars += k == gobinary::GoKind::kBool || k == gobinary::GoKind::kString ||
               (k >= gobinary::GoKind::kInt && k <= gobinary::GoKind::kUintptr) ||
               k == gobinary::GoKind::kFloat32 || k == gobinary::GoKind::kFloat64;
  }
  auto plan = CompilePlan(Parse("trace n main.note\non n print v\n"), "t.dlv", **dwarf);
  ASSERT_TRUE(plan.ok()) << plan.status();
  const ProbePlan& n = plan->probes[0];
  ASSERT_EQ(n.vars.size(), 1u);
  const Slot& v = n.vars[0];
  ASSERT_NE(v.whole, nullptr);
  EXPECT_EQ(v.whole->kind, gobinary::GoKind::kInterface);
  EXPECT_EQ(v.whole->region_slots, 2);  // the descriptor, the value
  std::vector<kdbg_op> calls;
  for (const kdbg_op& op : n.ops) {
    if (op.code == KDBG_OP_CALL) calls.push_back(op);
  }
  ASSERT_EQ(calls.size(), 2u);  // the print, then the argument v (b, a pointer, is no CALL)
  EXPECT_EQ(calls[0].a, 2);     // the region's slots, by type word
  const Subprograms& sub = *plan->subprograms;
  const uint32_t top = v.whole->variant;
  for (const char* t : {"int", "int8", "uint16", "float32", "float64", "bool", "string",
                        "main.color", "main.mode"}) {
    const DynamicValue* d = sub.Find(top, descriptor[t]);
    ASSERT_NE(d, nullptr) << t;
    EXPECT_EQ(d->data.type, t);
  }
  EXPECT_EQ(sub.Find(top, descriptor["*main.Order"]), nullptr);
  EXPECT_EQ(sub.values.size(), 2u * static_cast<size_t>(scalars));  // the print's, the argument's
  EXPECT_GT(scalars, 50);
  EXPECT_LT(sub.ops.size(), 100u) << "identical subprograms are shared";
  ASSERT_NE(sub.Find(top, descriptor["main.errCode"]), nullptr);
  EXPECT_EQ(sub.Find(top, descriptor["uint16"])->pc, sub.Find(top, descriptor["main.errCode"])->pc);
  EXPECT_NE(sub.Find(top, descriptor["uint16"])->pc, sub.Find(top, descriptor["int"])->pc);
  EXPECT_EQ(sub.Find(top, descriptor["string"])->pc, sub.Find(top, descriptor["main.color"])->pc);

  // A record: the words, the descriptor the CALL wrote, the value.
  std::vector<kdbg_slot> values(static_cast<size_t>(v.whole_slots));
  values[0] = Ok(descriptor["main.color"], 0xc000010000);
  values[1] = Ok(descriptor["main.color"]);
  values[2] = Ok(0xc000020000, 6, "blue-x");
  EXPECT_EQ(FormatWhole(v, values), "interface {}(\"blue-x\")");
  values[0] = Ok(descriptor["main.mode"], 0xc000010000);
  values[1] = Ok(descriptor["main.mode"]);
  values[2] = Ok(3);
  EXPECT_EQ(FormatWhole(v, values), "interface {}(modeRead|modeWrite (3))");
  values[0] = Ok(0, 0);
  EXPECT_EQ(FormatWhole(v, values), "interface {} nil");
  // No subprogram ran (a type not compiled): its words, named by the descriptor.
  values[0] = Ok(descriptor["*main.Order"], 0xc000010000);
  values[1] = Ok(descriptor["*main.Order"]);
  values[1].status = KDBG_SLOT_NO_TYPE;
  EXPECT_EQ(FormatWhole(v, values), "interface {}((*main.Order)(0xc000010000))");
  // Inside a value printed whole, where Delve prints every dynamic type whole: not read here.
  auto inside = CompilePlan(Parse("trace n main.note\non n print b\n"), "t.dlv", **dwarf);
  EXPECT_EQ(inside.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(
      inside.status().message(),
      ::testing::HasSubstr("t.dlv:2: b: b.V is interface {}, an empty interface inside a value "
                           "printed whole (print it on its own)"));
  // On its own (a field chain to it): read.
  EXPECT_TRUE(CompilePlan(Parse("trace n main.note\non n print b.V\n"), "t.dlv", **dwarf).ok());
}

// A promoted field is found breadth first through the embedded fields; a name no struct on the
// way has stays an error naming the outer type.
TEST(EbpfPlanTest, PromotedFieldsAreFoundThroughEmbeddedFields) {
  auto dwarf = gobinary::DwarfReader::Open(kdbg::testing::TargetPath("values"));
  ASSERT_TRUE(dwarf.ok()) << dwarf.status();
  auto plan = CompilePlan(Parse("trace s main.ship\non s print e.ID\non s print e.Source\n"),
                          "t.dlv", **dwarf);
  ASSERT_TRUE(plan.ok()) << plan.status();
  ASSERT_EQ(plan->probes[0].vars.size(), 2u);
  EXPECT_EQ(plan->probes[0].vars[0].type, "int64");
  EXPECT_EQ(plan->probes[0].vars[1].type, "string");
  auto bad = CompilePlan(Parse("trace s main.ship\non s print e.Nope\n"), "t.dlv", **dwarf);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(
      absl::StrContains(bad.status().message(), "e is main.envelope, which has no field Nope"))
      << bad.status();
}

// A field that no value of the static type can have is a mistake of the script (the engine choice
// refuses it rather than run it on Delve), with the nearest field named or the fields listed. Not
// one where a value might have it: a method of that name (of the type or of an embedded one),
// a field through an interface, a parameter that is not there (Delve also finds locals and
// package variables).
TEST(EbpfPlanTest, AFieldTheTypeCannotHaveIsAMistakeOfTheScript) {
  auto dwarf = gobinary::DwarfReader::Open(kdbg::testing::TargetPath("values"));
  ASSERT_TRUE(dwarf.ok()) << dwarf.status();
  struct Case {
    std::string script;
    bool mistake;
    std::string message;
  } cases[] = {
      {"trace h main.handleOrder\non h print o.Nope\n", true,
       "t.dlv:2: o.Nope: o is main.Order, which has no field Nope (did you mean Note?)"},
      {"trace h main.handleOrder\non h print o.Customer.nmae\n", true,
       "o.Customer.nmae: o.Customer is main.Customer, which has no field nmae (did you mean "
       "Name?)"},
      {"trace s main.ship\non s print e.Zzzzzz\n", true,
       "e is main.envelope, which has no field Zzzzzz (its fields: Order, meta, Seq, ID, "
       "Customer, Items, Paid, Note, Weight, Source, Mass, Scale)"},
      {"trace h main.handleOrder\non h print tag.Len\n", true,
       "t.dlv:2: tag.Len: tag is string, which has no field Len"},
      {"trace h main.handleOrder\non h print o.ID.X\n", true,
       "o.ID is int64, which has no field X"},
      {"trace h main.handleOrder\ncond h o.Nope == 1\n", true,
       "t.dlv:2: cond o.Nope == 1: o is main.Order, which has no field Nope"},
      // The linker dropped (*Order).Describe (never called): Delve finds no method either.
      {"trace h main.handleOrder\non h print o.Describe\n", true, "which has no field Describe"},
      // Through an interface: a dynamic type may have it.
      {"trace h main.handleOrder\non h print d.Nope\n", false, "Nope"},
      {"trace h main.handleOrder\non h print nope\n", false,
       "has no parameter nope, nor has package main a variable nope"},
  };
  for (const Case& c : cases) {
    auto plan = CompilePlan(Parse(c.script), "t.dlv", **dwarf);
    ASSERT_FALSE(plan.ok()) << c.script;
    EXPECT_EQ(IsScriptMistake(plan.status()), c.mistake) << plan.status();
    EXPECT_TRUE(absl::StrContains(plan.status().message(), c.message)) << plan.status();
  }
  EXPECT_FALSE(IsScriptMistake(absl::InvalidArgumentError("o is main.Order, which has no field")));
  // An embedded field is selected by its type's name.
  auto embedded = CompilePlan(Parse("trace s main.ship\non s print e.Order.ID\non s print "
                                    "e.meta.Source\n"),
                              "t.dlv", **dwarf);
  EXPECT_TRUE(embedded.ok()) << embedded.status();
  // (*Order).String is in modern-values: Delve evaluates o.String to that method.
  auto modern = gobinary::DwarfReader::Open(kdbg::testing::TargetPath("modern-values"));
  ASSERT_TRUE(modern.ok()) << modern.status();
  auto method =
      CompilePlan(Parse("trace p main.process\non p print o.String\n"), "t.dlv", **modern);
  ASSERT_FALSE(method.ok());
  EXPECT_FALSE(IsScriptMistake(method.status())) << method.status();
  auto typo = CompilePlan(Parse("trace p main.process\non p print o.Strin\n"), "t.dlv", **modern);
  ASSERT_FALSE(typo.ok());
  EXPECT_TRUE(IsScriptMistake(typo.status())) << typo.status();
  // ... and (*Counter).Add promoted through tagged's embedded *Counter: t.Add is that method.
  auto promoted = CompilePlan(Parse("trace b main.bump\non b print t.Add\n"), "t.dlv", **modern);
  ASSERT_FALSE(promoted.ok());
  EXPECT_FALSE(IsScriptMistake(promoted.status())) << promoted.status();
  auto field = CompilePlan(Parse("trace b main.bump\non b print t.Total\n"), "t.dlv", **modern);
  EXPECT_TRUE(field.ok()) << field.status();
}

// A location that names no function of the binary names the nearest one, in full, whether the
// script spelled it in full or as Delve's shorthand for package main; a generic function by its
// name without type parameters; nothing when no name is that near.
TEST(EbpfPlanTest, AnUnknownFunctionNamesTheNearest) {
  auto values = gobinary::DwarfReader::Open(kdbg::testing::TargetPath("values"));
  ASSERT_TRUE(values.ok()) << values.status();
  auto modern = gobinary::DwarfReader::Open(kdbg::testing::TargetPath("modern-values"));
  ASSERT_TRUE(modern.ok()) << modern.status();
  struct Case {
    gobinary::DwarfReader* dwarf;
    std::string script;
    std::string message;  // the whole message
  } cases[] = {
      {values->get(), "trace main.handelOrder\n",
       "t.dlv:1: location \"main.handelOrder\" not found (did you mean main.handleOrder?)"},
      {values->get(), "trace h handelOrder\n",
       "t.dlv:1: location \"handelOrder\" not found (did you mean main.handleOrder?)"},
      {values->get(), "trace main.zzzzzzzz\n", "t.dlv:1: location \"main.zzzzzzzz\" not found"},
      {modern->get(), "trace main.smu\n",
       "t.dlv:1: location \"main.smu\" not found (did you mean main.sum?)"},
  };
  for (const Case& c : cases) {
    auto plan = CompilePlan(Parse(c.script), "t.dlv", *c.dwarf);
    EXPECT_TRUE(absl::IsNotFound(plan.status())) << plan.status();
    EXPECT_EQ(plan.status().message(), c.message);
  }
}

// len() of a map reads the count its header starts with, a nil map as 0 (LOAD0); len() of other
// kinds is refused.
TEST(EbpfPlanTest, LenOfAMapReadsTheCountItsHeaderStartsWith) {
  auto dwarf = gobinary::DwarfReader::Open(kdbg::testing::TargetPath("values"));
  ASSERT_TRUE(dwarf.ok()) << dwarf.status();
  auto plan = CompilePlan(Parse("trace t main.tally\non t print len(counts)\n"), "t.dlv", **dwarf);
  ASSERT_TRUE(plan.ok()) << plan.status();
  std::vector<uint8_t> codes;
  for (const kdbg_op& op : plan->probes[0].ops) {
    if (op.slot == 0) codes.push_back(op.code);
  }
  EXPECT_THAT(codes, ::testing::ElementsAre(KDBG_OP_ALT, KDBG_OP_REG, KDBG_OP_LOAD0, KDBG_OP_STORE,
                                            KDBG_OP_END));
  auto bad = CompilePlan(Parse("trace t main.ship\non t print len(e.Seq)\n"), "t.dlv", **dwarf);
  EXPECT_TRUE(absl::StrContains(bad.status().message(),
                                "len() of int: only strings, slices, maps and channels"))
      << bad.status();
}

// An index into an array is checked here, one into a slice or string at the hit (CHECK before
// the element is read); other kinds cannot be indexed.
TEST(EbpfPlanTest, IndexesAreCheckedAgainstTheirLength) {
  auto dwarf = gobinary::DwarfReader::Open(kdbg::testing::TargetPath("values"));
  ASSERT_TRUE(dwarf.ok()) << dwarf.status();
  auto plan = CompilePlan(Parse("trace v main.validate\non v print digest[3]\non v print "
                                "items[7]\n"),
                          "t.dlv", **dwarf);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->probes[0].vars[0].type, "uint8");
  EXPECT_EQ(plan->probes[0].vars[1].type, "string");
  bool checked = false;
  for (const kdbg_op& op : plan->probes[0].ops) {
    if (op.code == KDBG_OP_CHECK) {
      EXPECT_EQ(op.slot, 1);
      EXPECT_EQ(op.imm, 7u);
      checked = true;
    }
  }
  EXPECT_TRUE(checked);
  auto past = CompilePlan(Parse("trace v main.validate\non v print digest[4]\n"), "t.dlv", **dwarf);
  EXPECT_TRUE(
      absl::StrContains(past.status().message(), "digest is [4]uint8: index 4 out of bounds"))
      << past.status();
  auto scalar = CompilePlan(Parse("trace v main.validate\non v print qty[0]\n"), "t.dlv", **dwarf);
  EXPECT_TRUE(absl::StrContains(scalar.status().message(), "qty is int, which cannot be indexed"))
      << scalar.status();
}

// Types that no itab symbol names are tried only while the probe's read steps allow: past
// KDBG_MAX_OPS the probe is compiled without them, and a field through an empty interface, which
// then has none, sends the script to Delve with the reason.
TEST(EbpfPlanTest, TypesNoItabSymbolNamesGiveWayToTheProbesReadSteps) {
  auto dwarf = gobinary::DwarfReader::Open(kdbg::testing::TargetPath("values"));
  ASSERT_TRUE(dwarf.ok()) << dwarf.status();
  std::string some = "trace v main.validate\n", many = some;
  for (int i = 0; i < 4; ++i) absl::StrAppend(&some, "on v print extra.Note\n");
  for (int i = 0; i < 24; ++i) absl::StrAppend(&many, "on v print extra.Note\n");
  auto plan = CompilePlan(Parse(some), "t.dlv", **dwarf);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_LE(plan->probes[0].ops.size(), size_t{KDBG_MAX_OPS});
  auto over = CompilePlan(Parse(many), "t.dlv", **dwarf);
  ASSERT_EQ(over.status().code(), absl::StatusCode::kUnimplemented) << over.status();
  EXPECT_TRUE(absl::StrContains(over.status().message(),
                                "extra is interface {}: the types with a field Note take more read "
                                "steps than this probe has left; use the Delve engine"))
      << over.status();
}

// A struct passed in registers holding an error (its DWARF type a typedef of a typedef of
// runtime.iface: 16 bytes): its field chain is read from its registers; each interface's region
// shrinks until every print fits the 16 slots (the error's first); two struct levels down, past
// Delve's MaxVariableRecurse, no CALL: its dynamic value by type only.
TEST(EbpfPlanTest, InterfaceRegionsShrinkUntilEveryPrintFits) {
  auto dwarf = gobinary::DwarfReader::Open(kdbg::testing::TargetPath("values"));
  ASSERT_TRUE(dwarf.ok()) << dwarf.status();
  // The error printed eight times over: at 15 slots its regions pass the prints' 96.
  std::string errs;
  for (int i = 0; i < 7; ++i) errs += "on i print o.In.Err\n";
  auto plan = CompilePlan(Parse("trace i main.inspect\non i print o.Name\non i print o.In.N\n"
                                "on i print o.In.Err\non i print o.In\non i print o\n" +
                                errs),
                          "t.dlv", **dwarf);
  ASSERT_TRUE(plan.ok()) << plan.status();
  const ProbePlan& pp = plan->probes[0];
  ASSERT_EQ(pp.vars.size(), 12u);
  for (const Slot& v : pp.vars) EXPECT_EQ(v.unread, "") << v.name;
  const Slot& err = pp.vars[2];
  ASSERT_NE(err.whole, nullptr);
  EXPECT_EQ(err.whole->kind, gobinary::GoKind::kInterface);
  // Capped at 7 (kRegionCaps): at 15 the error's region leaves o.In's own too few slots.
  EXPECT_LE(err.whole->region_slots, 7);
  EXPECT_GE(err.whole->region_slots, 3);  // *errors.errorString's: descriptor, pointer, string
  // o.In's error (level 1) has a region too: its dynamic value is read.
  const Slot& in_print = pp.vars[3];
  ASSERT_NE(in_print.whole, nullptr);
  ASSERT_EQ(in_print.whole->children.size(), 2u);
  EXPECT_GE(in_print.whole->children[0].region, 0);
  EXPECT_GE(in_print.whole->children[0].region_slots, 3);
  // `o`: o.In.Err is at level 2: by address (no region), its words only.
  const Slot& o = pp.vars[4];
  ASSERT_NE(o.whole, nullptr);
  ASSERT_EQ(o.whole->children.size(), 2u);
  const ValueNode& in = o.whole->children[1];
  ASSERT_EQ(in.children.size(), 2u);
  EXPECT_EQ(in.children[0].kind, gobinary::GoKind::kInterface);
  EXPECT_TRUE(in.children[0].only_addr);
  EXPECT_EQ(in.children[0].region, -1);
}

}  // namespace
}  // namespace kdbg::ebpf
