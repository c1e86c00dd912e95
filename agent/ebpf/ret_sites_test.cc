#include "agent/ebpf/ret_sites.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kdbg::ebpf {
namespace {

using ::testing::ElementsAre;

// A Go 1.26 function's shape: stack check, body, two returns, the morestack call and the jump
// back to the entry (bytes as `go tool objdump` shows them).
TEST(FindReturnSitesTest, EveryRetAtAnInstructionBoundary) {
  const std::string code(
      "\x49\x3b\x66\x10"              // 0x1000 CMPQ SP, 0x10(R14)
      "\x76\x1c"                      // 0x1004 JBE 0x1022
      "\x55"                          // 0x1006 PUSHQ BP
      "\x48\x89\xe5"                  // 0x1007 MOVQ SP, BP
      "\x48\x85\xc0"                  // 0x100a TESTQ AX, AX
      "\x74\x06"                      // 0x100d JE 0x1015
      "\xb8\xc3\x00\x00\x00"          // 0x100f MOVL $0xc3, AX (a C3 byte inside: not a RET)
      "\x5d"                          // 0x1014 POPQ BP
      "\xc3"                          // 0x1015 RET
      "\x48\x8d\x05\xc3\x00\x00\x00"  // 0x1016 LEAQ 0xc3(IP), AX
      "\x5d"                          // 0x101d POPQ BP
      "\xf3\xc3"                      // 0x101e REP RET
      "\xc2\x08\x00"                  // 0x1020 RET $8 (never emitted by Go; still a return)
      "\xe8\x00\x00\x00\x00"          // 0x1023 CALL runtime.morestack_noctxt
      "\xeb\xd6",                     // 0x1028 JMP 0x1000
      42);
  auto sites = FindReturnSites(code, 0x1000);
  ASSERT_TRUE(sites.ok()) << sites.status();
  EXPECT_THAT(*sites, ElementsAre(0x1015, 0x101e, 0x1020));
}

TEST(FindReturnSitesTest, UndecodableBytesAreAnErrorNotAGuess) {
  // 0x06 (PUSH ES) does not exist in 64-bit mode.
  auto sites = FindReturnSites(std::string("\x55\x06\xc3", 3), 0x2000);
  ASSERT_FALSE(sites.ok());
  EXPECT_EQ(sites.status().message(), "cannot decode the instruction at 0x2001");
}

TEST(FindReturnSitesTest, NoReturn) {
  auto sites = FindReturnSites(std::string("\xeb\xfe", 2), 0x3000);  // JMP . (loops forever)
  ASSERT_TRUE(sites.ok());
  EXPECT_TRUE(sites->empty());
}

// An inlined call's probe address must start an instruction of its caller.
TEST(StartsInstructionTest, OnlyInstructionStarts) {
  const std::string code(
      "\x49\x3b\x66\x10"      // 0x1000 CMPQ SP, 0x10(R14)
      "\x76\x1c"              // 0x1004 JBE
      "\xb8\xc3\x00\x00\x00"  // 0x1006 MOVL $0xc3, AX
      "\xc3",                 // 0x100b RET
      12);
  for (uint64_t at : {0x1000, 0x1004, 0x1006, 0x100b}) {
    auto r = StartsInstruction(code, 0x1000, at);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_TRUE(*r) << std::hex << at;
  }
  for (uint64_t at : {0x1001, 0x1005, 0x1007, 0x100c, 0x2000}) {
    auto r = StartsInstruction(code, 0x1000, at);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_FALSE(*r) << std::hex << at;
  }
  // Bytes before the address that do not decode: an error, not a guess.
  EXPECT_FALSE(StartsInstruction(std::string("\x55\x06\xc3", 3), 0x2000, 0x2002).ok());
}

}  // namespace
}  // namespace kdbg::ebpf
