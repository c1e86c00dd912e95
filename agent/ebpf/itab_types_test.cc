#include "agent/ebpf/itab_types.h"

#include <cstring>
#include <string>

#include "common/testing/fake_proc_reader.h"
#include "gtest/gtest.h"

namespace kdbg::ebpf {
namespace {

constexpr pid_t kPid = 4242;
constexpr uint64_t kBias = 0x10000;  // a PIE's: run-time addresses are the binary's + kBias

std::string Word(uint64_t w) {
  std::string out(8, '\0');
  std::memcpy(out.data(), &w, 8);
  return out;
}

// A runtime-made itab {Inter, Type, Hash, Fun[0]} at `itab`, its Type the descriptor at `type`.
void PutItab(testing::FakeProcReader& proc, uint64_t itab, uint64_t type) {
  proc.memory[{kPid, itab}] = Word(0x5000 + kBias) + Word(type) + Word(0x1234) + Word(0x401000);
}

struct Fixture {
  testing::FakeProcReader proc;
  int loads = 0;
  ItabTypes itabs{
      proc, kPid, kBias, [this]() -> absl::StatusOr<std::vector<gobinary::RuntimeType>> {
        ++loads;
        return std::vector<gobinary::RuntimeType>{{0x6000, "main.label", gobinary::GoKind::kStruct},
                                                  {0x6100, "*main.memo", gobinary::GoKind::kPtr}};
      }};
};

TEST(ItabTypesTest, NamesTheTypeAnItabMadeAtRunTimePointsTo) {
  Fixture f;
  PutItab(f.proc, 0xc000100000, 0x6100 + kBias);
  PutItab(f.proc, 0xc000100040, 0x6000 + kBias);
  EXPECT_EQ(f.loads, 0);  // nothing read before the first lookup
  const DynamicType* t = f.itabs.Lookup(0xc000100000);
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->name, "*main.memo");
  EXPECT_EQ(t->kind, gobinary::GoKind::kPtr);
  EXPECT_EQ(t->word, 0xc000100000u);
  t = f.itabs.Lookup(0xc000100040);
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->name, "main.label");
  EXPECT_EQ(f.loads, 1);  // the binary's types read once
  // Remembered: the target's memory is not read again.
  f.proc.memory.clear();
  t = f.itabs.Lookup(0xc000100000);
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->name, "*main.memo");
}

TEST(ItabTypesTest, UnreadableOrUnnamedIsNull) {
  Fixture f;
  EXPECT_EQ(f.itabs.Lookup(0), nullptr);
  EXPECT_EQ(f.itabs.Lookup(0xdead0000), nullptr);  // not mapped
  PutItab(f.proc, 0xc000200000, 0x6100);           // the binary's address, not moved: no type
  EXPECT_EQ(f.itabs.Lookup(0xc000200000), nullptr);
}

// A target that makes itabs without end cannot grow the cache past kMaxItabs between hits: Trim,
// when it is full, starts again, and a type it names is named again (read once more). Until then
// every pointer Lookup gave stays valid (a hit's formatting holds them).
TEST(ItabTypesTest, AFullCacheStartsAgainWhenTrimmed) {
  Fixture f;
  PutItab(f.proc, 0xc000100000, 0x6100 + kBias);
  const DynamicType* first = f.itabs.Lookup(0xc000100000);
  ASSERT_NE(first, nullptr);
  for (uint64_t i = 1; i <= ItabTypes::kMaxItabs; ++i) {
    EXPECT_EQ(f.itabs.Lookup(0xdead0000 + 64 * i), nullptr);  // unreadable, remembered so
  }
  EXPECT_EQ(first->name, "*main.memo");  // still valid (ASan would see it freed)
  f.itabs.Trim();
  f.proc.memory.clear();  // forgotten: the next lookup reads the target again, and cannot
  EXPECT_EQ(f.itabs.Lookup(0xc000100000), nullptr);
  PutItab(f.proc, 0xc000100000, 0x6100 + kBias);
  EXPECT_EQ(f.itabs.Lookup(0xc000100000), nullptr) << "remembered as unreadable since";
  EXPECT_EQ(f.loads, 1);
}

// With the plan's slot: an itab found neither among the symbols nor by `itabs` keeps saying so.
TEST(ItabTypesTest, FormatSlotNamesARuntimeItabsType) {
  Fixture f;
  PutItab(f.proc, 0xc000100000, 0x6100 + kBias);
  Slot d;
  d.name = "d";
  d.type = "main.Describer";
  d.format = SlotFormat::kInterface;
  d.size = 16;
  d.by_itab = true;
  d.dynamic_types = std::make_shared<const std::vector<DynamicType>>();
  kdbg_slot v{};
  v.status = KDBG_SLOT_OK;
  v.w0 = 0xc000100000;
  v.w1 = 0xc0000aa000;
  EXPECT_EQ(FormatSlot(d, v, &f.itabs), "main.Describer((*main.memo)(0xc0000aa000))");
  EXPECT_EQ(FormatSlot(d, v),
            "main.Describer((unreadable dynamic type at 0xc000100000, not in the binary's itab "
            "symbols or DWARF))");
  // An empty interface's first word is a type descriptor: never looked up as an itab.
  Slot any = d;
  any.by_itab = false;
  EXPECT_EQ(FormatSlot(any, v, &f.itabs),
            "main.Describer((unreadable dynamic type at 0xc000100000, not in the binary's itab "
            "symbols or DWARF))");
}

}  // namespace
}  // namespace kdbg::ebpf
