#include "agent/ebpf/plan.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

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
  EXPECT_FALSE(ParseExpr("o.Items[0]").ok());
  EXPECT_FALSE(ParseExpr("*p").ok());
  EXPECT_FALSE(ParseExpr("a + b").ok());
  EXPECT_FALSE(ParseExpr("len(x").ok());
}

TEST(EbpfPlanTest, QualifyingScript) {
  EXPECT_EQ(CheckScript(Parse("trace h main.handleOrder\non h print o.ID\non h print len(tag)\n")),
            std::nullopt);
  EXPECT_EQ(CheckScript(Parse("trace handleOrder\n")), std::nullopt);
}

TEST(EbpfPlanTest, DisqualificationNamesTheLine) {
  struct Case {
    std::string script;
    int line;
    std::string reason;
  } cases[] = {
      {"trace h main.go:10\n", 1, "not a function entry"},
      {"trace h *0x401000\n", 1, "not a function entry"},
      {"trace h main.f\ncond h x > 1 && y < 2\n", 2, "condition `x > 1 && y < 2`"},
      {"trace h main.f\ncond h f(x) == 1\n", 2, "condition"},
      {"trace h main.f\ncond h s == \"a\\n\"\n", 2, "escapes"},
      {"trace h main.f\ncond h x == y\n", 2, "other than a constant"},
      {"trace h main.f\ncond -hitcount h > 1\n", 2, "hit-count"},
      {"trace h main.f\non h stack 3\n", 2, "stack"},
      {"trace h main.f\non h print o.ID\non h print m[\"k\"]\n", 3, "not a parameter"},
  };
  for (const Case& c : cases) {
    auto d = CheckScript(Parse(c.script));
    ASSERT_TRUE(d.has_value()) << c.script;
    EXPECT_EQ(d->line, c.line) << c.script;
    EXPECT_NE(d->reason.find(c.reason), std::string::npos) << d->reason;
  }
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
  for (const char* bad : {"a || b", "a == ", "a = 1", "a == 1.5", "a == 'x'", "x[0] == 1", "a == b",
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

TEST(EbpfPlanTest, FormatsLikeDelve) {
  Slot str{"r.RemoteAddr", "string", SlotFormat::kString, 8, ""};
  EXPECT_EQ(FormatSlot(str, Ok(0x1000, 15, "127.0.0.1:53422")), "\"127.0.0.1:53422\"");
  EXPECT_EQ(FormatSlot(str, Ok(0x1000, 2, "a\"")), "\"a\\\"\"");
  std::string long64(64, 'x');
  EXPECT_EQ(FormatSlot(str, Ok(0x1000, 100, long64)), "\"" + long64 + "\"...+36 more");
  Slot i8{"t", "int8", SlotFormat::kSigned, 1, ""};
  EXPECT_EQ(FormatSlot(i8, Ok(0xffffffffffffff85)), "-123");
  EXPECT_EQ(FormatSlot(i8, Ok(0x1234505)), "5");  // garbage above the register's low byte
  Slot u16{"w", "uint16", SlotFormat::kUnsigned, 2, ""};
  EXPECT_EQ(FormatSlot(u16, Ok(0xabcd0102)), "258");
  Slot b{"ok", "bool", SlotFormat::kBool, 1, ""};
  EXPECT_EQ(FormatSlot(b, Ok(1)), "true");
  EXPECT_EQ(FormatSlot(b, Ok(0x100)), "false");
  Slot p{"o", "*main.Order", SlotFormat::kPointer, 8, ""};
  EXPECT_EQ(FormatSlot(p, Ok(0xc000012345)), "(*main.Order)(0xc000012345)");
  EXPECT_EQ(FormatSlot(p, Ok(0)), "nil");
  kdbg_slot nil{};
  nil.status = KDBG_SLOT_NIL;
  EXPECT_EQ(FormatSlot(str, nil), "(unreadable nil pointer dereference)");
}

}  // namespace
}  // namespace kdbg::ebpf
