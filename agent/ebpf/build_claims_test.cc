#include "agent/ebpf/build_claims.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kdbg::ebpf {
namespace {

using Kind = BuildClaims::Kind;

TEST(BuildClaimsTest, OneKindPerBuildUntilReleased) {
  BuildClaims c;
  auto d1 = c.Acquire("B1", {Kind::kDelve, "s1", 1, ""});
  auto d2 = c.Acquire("B1", {Kind::kDelve, "s2", 2, ""});
  ASSERT_TRUE(d1.ok() && d2.ok());
  EXPECT_NE(*d1, *d2);
  EXPECT_TRUE(c.Acquire("B2", {Kind::kUprobes, "s3", 3, ""}).ok());
  auto refused = c.Acquire("B1", {Kind::kUprobes, "s4", 4, ""});
  EXPECT_TRUE(absl::IsFailedPrecondition(refused.status())) << refused.status();
  EXPECT_THAT(std::string(refused.status().message()),
              ::testing::StartsWith("pid 1 runs the same build as pid 4 (Go build ID B1) and is "
                                    "debugged with Delve by session s1:"));
  c.Release(*d1);
  refused = c.Acquire("B1", {Kind::kUprobes, "s4", 4, ""});
  EXPECT_THAT(std::string(refused.status().message()), ::testing::HasSubstr("session s2:"));
  c.Release(*d2);
  c.Release(*d2);  // twice: ignored
  c.Release(0);
  auto u = c.Acquire("B1", {Kind::kUprobes, "s4", 4, ""});
  ASSERT_TRUE(u.ok()) << u.status();
  auto named = c.Acquire("B1", {Kind::kDelve, "s5", 5, "default/checkout-2"});
  EXPECT_THAT(std::string(named.status().message()),
              ::testing::StartsWith("pid 4 runs the same build as pod default/checkout-2 (pid 5) "
                                    "(Go build ID B1) and is traced with the eBPF engine by "
                                    "session s4: the kernel would take Delve's breakpoints in pid "
                                    "5 "));
}

TEST(BuildClaimsTest, ABinaryWithoutBuildIdIsNotTracked) {
  BuildClaims c;
  auto d = c.Acquire("", {Kind::kDelve, "s1", 1, ""});
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(*d, 0);
  EXPECT_TRUE(c.Acquire("", {Kind::kUprobes, "s2", 2, ""}).ok());
}

}  // namespace
}  // namespace kdbg::ebpf
