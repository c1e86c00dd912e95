#include "agent/gobinary/build_info.h"

#include "gtest/gtest.h"

namespace kdbg::gobinary {
namespace {

// A .go.buildinfo section in the inline format of Go 1.18+, module info as `go build` writes it.
std::string Section(const std::string& version, const std::string& lines) {
  std::string mod = std::string(16, 'x') + lines + std::string(16, 'y');
  std::string s("\xff Go buildinf:", 14);
  s += '\x08';  // pointer size
  s += '\x02';  // flags: inline strings
  s += std::string(16, '\0');
  auto varint = [&s](size_t n) {
    for (; n >= 0x80; n >>= 7) s += static_cast<char>((n & 0x7f) | 0x80);
    s += static_cast<char>(n);
  };
  varint(version.size());
  s += version;
  varint(mod.size());
  s += mod;
  return s;
}

TEST(ParseGoBuildInfo, InlineFormat) {
  auto info =
      ParseGoBuildInfo(Section("go1.19.8",
                               "path\texample.com/hello\nmod\texample.com/hello\t(devel)\t\n"
                               "build\t-gcflags=\"all=-N -l\"\n"));
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->go_version, "go1.19.8");
  EXPECT_EQ(info->module_path, "example.com/hello");
  EXPECT_EQ(info->Setting("-gcflags"), "all=-N -l");
  EXPECT_FALSE(ParseGoBuildInfo("not build info at all, not at all").has_value());
}

TEST(ParseGoBuildInfo, EveryBuildSettingInOrderUnquoted) {
  // As Go 1.26 writes it for `go build -ldflags='-s -w'` (go version -m shows the same lines).
  auto info = ParseGoBuildInfo(
      Section("go1.26.8",
              "path\texample.com/hello\nmod\texample.com/hello\t(devel)\t\n"
              "build\t-buildmode=exe\nbuild\t-compiler=gc\nbuild\t-ldflags=\"-s -w\"\n"
              "build\tCGO_ENABLED=0\nbuild\tGOARCH=amd64\nbuild\tGOOS=linux\n"
              "build\tGOAMD64=v1\n"));
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->go_version, "go1.26.8");
  ASSERT_EQ(info->settings.size(), 7u);
  EXPECT_EQ(info->settings[0], (std::pair<std::string, std::string>{"-buildmode", "exe"}));
  EXPECT_EQ(info->Setting("-ldflags"), "-s -w");
  EXPECT_EQ(info->Setting("CGO_ENABLED"), "0");
  EXPECT_EQ(info->Setting("-gcflags"), "");
}

TEST(ParseGoBuildInfo, PointerFormatOfOldGoIsNotParsed) {
  std::string s = Section("go1.16.15", "");
  s[15] = '\0';  // flags without the inline bit: Go 1.13..1.17
  EXPECT_FALSE(ParseGoBuildInfo(s).has_value());
}

std::string Note(const std::string& name, uint32_t type, const std::string& desc) {
  std::string s;
  auto put32 = [&s](uint32_t v) { s.append(reinterpret_cast<const char*>(&v), 4); };
  put32(static_cast<uint32_t>(name.size() + 1));
  put32(static_cast<uint32_t>(desc.size()));
  put32(type);
  s += name;
  s += '\0';
  while (s.size() % 4) s += '\0';
  s += desc;
  return s;
}

TEST(BuildIdNotes, GoAndGnu) {
  const std::string id = "aB3xQ/cD4yR/eF5zS/gH6wT";
  const std::string go("Go\0", 3);  // the Go linker's note name is "Go\0\0" (namesz 4)
  EXPECT_EQ(ParseGoBuildIdNote(Note(go, 4, id)), id);
  EXPECT_EQ(ParseGoBuildIdNote(Note("GNU", 3, "\x01\x02")), "");
  EXPECT_EQ(ParseGoBuildIdNote("short"), "");
  EXPECT_EQ(ParseGnuBuildIdNote(Note("GNU", 3, std::string("\x01\xab\xff", 3))), "01abff");
  EXPECT_EQ(ParseGnuBuildIdNote(Note(go, 4, id)), "");
  std::string truncated = Note(go, 4, id);
  truncated.resize(truncated.size() - 1);
  EXPECT_EQ(ParseGoBuildIdNote(truncated), "");
}

TEST(Producer, VersionAndOptimisation) {
  EXPECT_EQ(GoVersionFromProducer("Go cmd/compile go1.19.8; -N -l"), "go1.19.8");
  EXPECT_EQ(GoVersionFromProducer("Go cmd/compile go1.26.8; regabi"), "go1.26.8");
  EXPECT_EQ(GoVersionFromProducer("GNU C17 12.2.0 -mtune=generic -g -O0"), "");
  for (const char* off : {"; -N -l", "all=-N -l", "\"all=-N -l\""}) {
    EXPECT_TRUE(FlagsDisableOptimization(off)) << off;
  }
  for (const char* on : {"; regabi", "all=-l", ""})
    EXPECT_FALSE(FlagsDisableOptimization(on)) << on;
}

TEST(GoVersion, ParsesReleaseCandidatesAndDevel) {
  auto v = ParseGoVersion("go1.26.8");
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->major, 1);
  EXPECT_EQ(v->minor, 26);
  EXPECT_EQ(v->patch, 8);
  v = ParseGoVersion("go1.21rc2");
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->minor, 21);
  EXPECT_EQ(v->patch, 0);
  v = ParseGoVersion("devel go1.27-abcdef Tue Dec 1");
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->minor, 27);
  EXPECT_TRUE(ParseGoVersion("1.20").has_value());
  EXPECT_FALSE(ParseGoVersion("").has_value());
  EXPECT_FALSE(ParseGoVersion("gox").has_value());
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
}  // namespace kdbg::gobinary
