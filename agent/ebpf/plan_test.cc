#include "agent/ebpf/plan.h"

#include <cstring>

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
      {"trace h main.f\ncond h x > 1\n", 2, "cond"},
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
  Slot str{"r.RemoteAddr", "string", SlotFormat::kString, 8};
  EXPECT_EQ(FormatSlot(str, Ok(0x1000, 15, "127.0.0.1:53422")), "\"127.0.0.1:53422\"");
  EXPECT_EQ(FormatSlot(str, Ok(0x1000, 2, "a\"")), "\"a\\\"\"");
  std::string long64(64, 'x');
  EXPECT_EQ(FormatSlot(str, Ok(0x1000, 100, long64)), "\"" + long64 + "\"...+36 more");
  Slot i8{"t", "int8", SlotFormat::kSigned, 1};
  EXPECT_EQ(FormatSlot(i8, Ok(0xffffffffffffff85)), "-123");
  EXPECT_EQ(FormatSlot(i8, Ok(0x1234505)), "5");  // garbage above the register's low byte
  Slot u16{"w", "uint16", SlotFormat::kUnsigned, 2};
  EXPECT_EQ(FormatSlot(u16, Ok(0xabcd0102)), "258");
  Slot b{"ok", "bool", SlotFormat::kBool, 1};
  EXPECT_EQ(FormatSlot(b, Ok(1)), "true");
  EXPECT_EQ(FormatSlot(b, Ok(0x100)), "false");
  Slot p{"o", "*main.Order", SlotFormat::kPointer, 8};
  EXPECT_EQ(FormatSlot(p, Ok(0xc000012345)), "(*main.Order)(0xc000012345)");
  EXPECT_EQ(FormatSlot(p, Ok(0)), "nil");
  kdbg_slot nil{};
  nil.status = KDBG_SLOT_NIL;
  EXPECT_EQ(FormatSlot(str, nil), "(unreadable nil pointer dereference)");
}

}  // namespace
}  // namespace kdbg::ebpf
