#include "agent/delve/delve_versions.h"

#include "gtest/gtest.h"

namespace kdbg::delve {
namespace {

std::vector<DelveBinary> Bundle() {
  return {{"/d/v1.27.2/dlv", "1.27.2", {25, 27}}, {"/d/v1.26.2/dlv", "1.26.2", {24, 26}}};
}

TEST(DelveVersions, GoRangeOfEachKnownDelve) {
  EXPECT_EQ(SupportedGoOf("1.20.2")->ToString(), "Go 1.18-1.20");
  EXPECT_EQ(SupportedGoOf("1.26.2")->ToString(), "Go 1.24-1.26");
  EXPECT_EQ(SupportedGoOf("1.27.2")->ToString(), "Go 1.25-1.27");
  EXPECT_FALSE(SupportedGoOf("1.99.0").has_value());
  EXPECT_FALSE(SupportedGoOf("").has_value());
  EXPECT_FALSE(SupportedGoOf("2.0.0").has_value());
}

TEST(DelveVersions, GoMinorOfRecordedVersions) {
  EXPECT_EQ(GoMinor("go1.26.8"), 26);
  EXPECT_EQ(GoMinor("go1.27rc1"), 27);
  EXPECT_EQ(GoMinor("go1.19"), 19);
  EXPECT_FALSE(GoMinor("devel go1.28-abc").has_value());
  EXPECT_FALSE(GoMinor("").has_value());
  EXPECT_FALSE(GoMinor("go2.1").has_value());
}

TEST(DelveVersions, ParsesDlvVersionOutput) {
  EXPECT_EQ(ParseDelveVersion("Delve Debugger\nVersion: 1.27.2\nBuild: $Id: abc $\n"), "1.27.2");
  EXPECT_EQ(ParseDelveVersion("garbage"), "");
}

TEST(DelveVersions, PicksTheNewestDelveSupportingTheTarget) {
  std::vector<DelveBinary> b = Bundle();
  GoSupport s = CheckGoSupport(b, "go1.26.8");
  ASSERT_TRUE(s.supported);
  EXPECT_EQ(s.delve->version, "1.27.2");
  s = CheckGoSupport(b, "go1.24.3");
  ASSERT_TRUE(s.supported);
  EXPECT_EQ(s.delve->version, "1.26.2");
  s = CheckGoSupport(b, "go1.27.3");
  ASSERT_TRUE(s.supported);
  EXPECT_EQ(s.delve->version, "1.27.2");
  EXPECT_EQ(s.range, "Go 1.24-1.27 (Delve 1.26.2: Go 1.24-1.26, Delve 1.27.2: Go 1.25-1.27)");
}

TEST(DelveVersions, RefusesOldAndNewGoWithWhatToDo) {
  std::vector<DelveBinary> b = Bundle();
  GoSupport old = CheckGoSupport(b, "go1.19.8");
  EXPECT_FALSE(old.supported);
  EXPECT_EQ(old.delve->version, "1.26.2");  // nearest range, if the user insists
  EXPECT_EQ(old.message,
            "the program was built with go1.19.8, outside the bundled Delve's supported range Go "
            "1.24-1.27 (Delve 1.26.2: Go 1.24-1.26, Delve 1.27.2: Go 1.25-1.27): rebuild the "
            "service with a supported Go, or pass --allow-unsupported-go to try anyway with Delve "
            "1.26.2 (undefined behaviour: values may be missing or wrong)");
  GoSupport future = CheckGoSupport(b, "go1.28.0");
  EXPECT_FALSE(future.supported);
  EXPECT_EQ(future.delve->version, "1.27.2");
  EXPECT_NE(future.message.find("upgrade kdbg's agent"), std::string::npos);
}

TEST(DelveVersions, UnknownGoVersionUsesTheNewest) {
  GoSupport s = CheckGoSupport(Bundle(), "devel +abc");
  EXPECT_TRUE(s.supported);
  EXPECT_EQ(s.delve->version, "1.27.2");
  EXPECT_FALSE(CheckGoSupport({}, "go1.26.8").supported);
}

TEST(DelveVersions, ProbeRefusesAMissingBinary) {
  auto d = ProbeDelve("/nonexistent/dlv");
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().code(), absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace kdbg::delve
