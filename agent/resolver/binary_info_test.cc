#include "agent/resolver/binary_info.h"

#include "gtest/gtest.h"
#include "tests/support/test_env.h"

namespace kdbg::agent {
namespace {

using kdbg::testing::TargetPath;

TEST(ElfBinaryReader, DebugBuild) {
  auto info = NewElfBinaryReader()->Read(TargetPath("hello-world"));
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->go_version().substr(0, 6), "go1.19");
  EXPECT_FALSE(info->module_path().empty());
  EXPECT_FALSE(info->build_id().empty());
  EXPECT_TRUE(info->has_dwarf());
  EXPECT_FALSE(info->optimized());
  EXPECT_FALSE(info->stripped());
}

TEST(ElfBinaryReader, OptimisedBuild) {
  auto info = NewElfBinaryReader()->Read(TargetPath("hello-world-optimized"));
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->go_version().substr(0, 6), "go1.19");
  EXPECT_TRUE(info->has_dwarf());
  EXPECT_TRUE(info->optimized());
  EXPECT_FALSE(info->stripped());
}

TEST(ElfBinaryReader, StrippedBuild) {
  auto info = NewElfBinaryReader()->Read(TargetPath("hello-world-stripped"));
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->go_version().substr(0, 6), "go1.19");
  EXPECT_FALSE(info->module_path().empty());
  EXPECT_FALSE(info->has_dwarf());
  EXPECT_TRUE(info->stripped());
  EXPECT_TRUE(info->optimized());
}

TEST(ElfBinaryReader, CProgramIsNotGo) {
  auto info = NewElfBinaryReader()->Read(TargetPath("not-go"));
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->go_version(), "");
  EXPECT_TRUE(info->has_dwarf());
}

TEST(ElfBinaryReader, Errors) {
  auto reader = NewElfBinaryReader();
  EXPECT_EQ(reader->Read("/nonexistent/x").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(
      reader->Read(kdbg::testing::SourceDir() + "/agent/resolver/CMakeLists.txt").status().code(),
      absl::StatusCode::kInvalidArgument);
}

TEST(ParseGoBuildInfo, InlineFormat) {
  std::string mod = std::string(16, 'x') +
                    "path\texample.com/hello\nmod\texample.com/hello\t(devel)\t\n"
                    "build\t-gcflags=\"all=-N -l\"\n" +
                    std::string(16, 'y');
  std::string s("\xff Go buildinf:", 14);
  s += '\x08';
  s += '\x02';
  s += std::string(16, '\0');
  s += static_cast<char>(8);
  s += "go1.19.8";
  s += static_cast<char>(mod.size());
  s += mod;
  std::string v, m, g;
  ASSERT_TRUE(ParseGoBuildInfo(s, &v, &m, &g));
  EXPECT_EQ(v, "go1.19.8");
  EXPECT_EQ(m, "example.com/hello");
  EXPECT_EQ(g, "\"all=-N -l\"");
  EXPECT_FALSE(ParseGoBuildInfo("not build info at all, not at all", &v, &m, &g));
}

TEST(GoVersionNewerThan, MajorMinorOnly) {
  EXPECT_FALSE(GoVersionNewerThan("go1.19.8", "1.20"));
  EXPECT_FALSE(GoVersionNewerThan("go1.20.14", "1.20"));
  EXPECT_TRUE(GoVersionNewerThan("go1.21.0", "1.20"));
  EXPECT_TRUE(GoVersionNewerThan("go1.21rc2", "1.20"));
  EXPECT_TRUE(GoVersionNewerThan("go2.0", "1.20"));
  EXPECT_FALSE(GoVersionNewerThan("", "1.20"));
}

}  // namespace
}  // namespace kdbg::agent
