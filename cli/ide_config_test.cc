// IDE configurations of `kdbg attach`: the source mapping, VS Code's launch.json (merged, never
// clobbered) and GoLand's run configuration.
#include "cli/ide_config.h"

#include <filesystem>
#include <fstream>
#include <set>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/support/test_env.h"

namespace kdbg::cli {
namespace {

using ::testing::HasSubstr;
using Json = nlohmann::json;

TEST(IdeConfig, MappingIsTheLongestTailThatExistsInTheCheckout) {
  std::set<std::string> files = {"/home/me/shop/cmd/server/main.go", "/home/me/shop/main.go"};
  auto exists = [&](const std::string& p) { return files.count(p) != 0; };
  auto m = FindSourceMapping("/build/src/cmd/server/main.go", "/home/me/shop", exists);
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->local, "/home/me/shop");
  EXPECT_EQ(m->remote, "/build/src");
  // -trimpath: the module path stands for the build directory.
  auto t = FindSourceMapping("example.com/shop/cmd/server/main.go", "/home/me/shop/", exists);
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->remote, "example.com/shop");
  EXPECT_FALSE(FindSourceMapping("/build/src/other.go", "/home/me/shop", exists).has_value());
  EXPECT_FALSE(FindSourceMapping("/home/me/shop/main.go", "/home/me/shop", exists).has_value())
      << "built where it is checked out: nothing to map";
}

TEST(IdeConfig, VsCodeConfigurationIsARemoteGoAttachWithSubstitutePath) {
  Json j = Json::parse(VsCodeConfiguration("kdbg: default/web", "127.0.0.1", 40000,
                                           SourceMapping{"/home/me/shop", "/build/src"}));
  EXPECT_EQ(j["type"], "go");
  EXPECT_EQ(j["request"], "attach");
  EXPECT_EQ(j["mode"], "remote");
  EXPECT_EQ(j["host"], "127.0.0.1");
  EXPECT_EQ(j["port"], 40000);
  EXPECT_EQ(j["substitutePath"], Json::parse(R"([{"from":"/home/me/shop","to":"/build/src"}])"));
  EXPECT_FALSE(Json::parse(VsCodeConfiguration("n", "127.0.0.1", 1, std::nullopt))
                   .contains("substitutePath"));
}

TEST(IdeConfig, LaunchJsonMergeKeepsEveryOtherConfigurationAndReplacesOurs) {
  std::string existing = R"({
    // VS Code's own template comment
    "version": "0.2.0",
    "compounds": [],
    "configurations": [
      {"name": "Launch file", "type": "go", "request": "launch", "program": "${file}"},
      {"name": "kdbg: default/web", "type": "go", "port": 1}
    ]
  })";
  auto merged = MergeLaunchJson(existing, "kdbg: default/web",
                                VsCodeConfiguration("kdbg: default/web", "127.0.0.1", 2, {}));
  ASSERT_TRUE(merged.ok()) << merged.status();
  Json j = Json::parse(*merged);
  ASSERT_EQ(j["configurations"].size(), 2u);
  EXPECT_EQ(j["configurations"][0]["name"], "Launch file");
  EXPECT_EQ(j["configurations"][0]["program"], "${file}");
  EXPECT_EQ(j["configurations"][1]["port"], 2);
  EXPECT_TRUE(j.contains("compounds"));
  auto added = MergeLaunchJson(*merged, "kdbg: shop/api-0", "{\"name\":\"kdbg: shop/api-0\"}");
  ASSERT_TRUE(added.ok());
  EXPECT_EQ(Json::parse(*added)["configurations"].size(), 3u);
  auto fresh = MergeLaunchJson("", "n", "{\"name\":\"n\"}");
  ASSERT_TRUE(fresh.ok());
  EXPECT_EQ(Json::parse(*fresh)["version"], "0.2.0");
  EXPECT_EQ(MergeLaunchJson("{not json", "n", "{}").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(MergeLaunchJson("[1]", "n", "{}").ok());
  EXPECT_FALSE(MergeLaunchJson("{\"configurations\": 3}", "n", "{}").ok());
}

TEST(IdeConfig, GoLandRunConfigurationIsAGoRemoteOne) {
  std::string xml = GoLandRunConfiguration("kdbg: default/a&b", "127.0.0.1", 40000);
  EXPECT_THAT(xml, HasSubstr("<component name=\"ProjectRunConfigurationManager\">"));
  EXPECT_THAT(xml, HasSubstr("type=\"GoRemoteDebugConfigurationType\" factoryName=\"Go Remote\""));
  EXPECT_THAT(xml, HasSubstr("name=\"kdbg: default/a&amp;b\""));
  EXPECT_THAT(xml, HasSubstr("<option name=\"port\" value=\"40000\" />"));
  EXPECT_EQ(GoLandFileName("default/hello-world"), "kdbg_default_hello_world.xml");
}

TEST(IdeConfig, WriteIdeFilesMergesAndKeepsTheCommentsInABackup) {
  std::string dir = kdbg::testing::MakeTempDir("kdbg-ide");
  std::filesystem::create_directories(dir + "/.vscode");
  std::ofstream(dir + "/.vscode/launch.json")
      << "{\n  // mine\n  \"configurations\": [{\"name\": \"mine\"}]\n}\n";
  IdeFiles files{true, true, dir};
  ASSERT_TRUE(internal::CheckIdeFiles(files).ok());
  auto said =
      WriteIdeFiles(files, "default/web", "127.0.0.1", 40000, SourceMapping{"/home/me", "/build"});
  ASSERT_TRUE(said.ok()) << said.status();
  EXPECT_THAT(*said, HasSubstr("its comments are in launch.json.kdbg-backup"));
  std::ifstream in(dir + "/.vscode/launch.json");
  Json j = Json::parse(in);
  ASSERT_EQ(j["configurations"].size(), 2u);
  EXPECT_EQ(j["configurations"][0]["name"], "mine");
  EXPECT_EQ(j["configurations"][1]["substitutePath"][0]["to"], "/build");
  EXPECT_TRUE(std::filesystem::exists(dir + "/.vscode/launch.json.kdbg-backup"));
  EXPECT_TRUE(std::filesystem::exists(dir + "/.idea/runConfigurations/kdbg_default_web.xml"));
  EXPECT_FALSE(std::filesystem::exists(dir + "/.vscode/launch.json.kdbg-tmp"));
  std::ofstream(dir + "/.vscode/launch.json") << "{ broken";
  auto refused = internal::CheckIdeFiles(files);
  EXPECT_EQ(refused.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(refused.message(), HasSubstr("launch.json is not a JSON object"));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace kdbg::cli
