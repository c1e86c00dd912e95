// deploy/krew/kdbg.yaml as scripts/krew-package renders it for the built CLI: the fields krew's
// validation requires (https://krew.sigs.k8s.io/docs/developer-guide/plugin-manifest/), no others,
// the archive's checksum, and an install done the way krew does it (unpack, copy `files`, link
// the `bin` as kubectl-kdbg on the PATH), whose `kubectl-kdbg --help` speaks to kubectl users.
#include <sys/stat.h>

#include <filesystem>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/child_process.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/test_env.h"
#include "yaml-cpp/yaml.h"

namespace kdbg {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

std::set<std::string> Keys(const YAML::Node& map) {
  std::set<std::string> keys;
  for (const auto& kv : map) keys.insert(kv.first.as<std::string>());
  return keys;
}

class KrewTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::MakeTempDir("kdbg-krew");
    auto out =
        RunCommand({testing::SourceDir() + "/scripts/krew-package", KDBG_PROJECT_VERSION,
                    "https://example.invalid/releases/v" KDBG_PROJECT_VERSION, dir_ + "/dist"},
                   absl::Seconds(60), true, {"KDBG_BINARY=" + testing::BinaryDir() + "/cli/kdbg"});
    ASSERT_TRUE(out.ok()) << out.status();
    manifest_ = YAML::LoadFile(dir_ + "/dist/kdbg.yaml");
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string dir_;
  YAML::Node manifest_;
};

TEST_F(KrewTest, ManifestHasKrewsShapeAndNothingElse) {
  EXPECT_EQ(Keys(manifest_), (std::set<std::string>{"apiVersion", "kind", "metadata", "spec"}));
  EXPECT_EQ(manifest_["apiVersion"].as<std::string>(),
            "krew.googlecontainertools.github.com/v1alpha2");
  EXPECT_EQ(manifest_["kind"].as<std::string>(), "Plugin");
  EXPECT_EQ(manifest_["metadata"]["name"].as<std::string>(), "kdbg") << "kubectl kdbg";
  YAML::Node spec = manifest_["spec"];
  EXPECT_EQ(Keys(spec), (std::set<std::string>{"version", "homepage", "shortDescription",
                                               "description", "caveats", "platforms"}));
  EXPECT_EQ(spec["version"].as<std::string>(), "v" KDBG_PROJECT_VERSION) << "semver with a v";
  EXPECT_TRUE(absl::StartsWith(spec["homepage"].as<std::string>(), "https://"));
  std::string short_description = spec["shortDescription"].as<std::string>();
  EXPECT_FALSE(short_description.empty());
  EXPECT_LE(short_description.size(), 50u) << "krew-index asks for a short one-liner";
  EXPECT_THAT(spec["description"].as<std::string>(), HasSubstr("kubectl kdbg trace"));
  ASSERT_TRUE(spec["platforms"].IsSequence());
  ASSERT_EQ(spec["platforms"].size(), 1u);
  YAML::Node p = spec["platforms"][0];
  EXPECT_EQ(Keys(p), (std::set<std::string>{"selector", "uri", "sha256", "files", "bin"}));
  EXPECT_EQ(p["selector"]["matchLabels"]["os"].as<std::string>(), "linux");
  EXPECT_EQ(p["selector"]["matchLabels"]["arch"].as<std::string>(), "amd64");
  EXPECT_EQ(p["uri"].as<std::string>(),
            "https://example.invalid/releases/v" KDBG_PROJECT_VERSION "/kdbg-linux-amd64.tar.gz");
  EXPECT_EQ(p["bin"].as<std::string>(), "kdbg");
  auto sum = RunCommand({"sha256sum", dir_ + "/dist/kdbg-linux-amd64.tar.gz"});
  ASSERT_TRUE(sum.ok());
  EXPECT_EQ(p["sha256"].as<std::string>(), sum->substr(0, 64));
}

// krew's install: unpack the archive, copy each `files` entry, link `bin` as kubectl-<name>.
TEST_F(KrewTest, InstalledTheWayKrewDoesItRunsAsKubectlKdbg) {
  YAML::Node p = manifest_["spec"]["platforms"][0];
  std::string unpacked = dir_ + "/unpacked", store = dir_ + "/store/kdbg/v" KDBG_PROJECT_VERSION,
              bin = dir_ + "/bin";
  fs::create_directories(unpacked);
  fs::create_directories(store);
  fs::create_directories(bin);
  ASSERT_TRUE(
      RunCommand({"tar", "-xzf", dir_ + "/dist/kdbg-linux-amd64.tar.gz", "-C", unpacked}).ok());
  for (const auto& f : p["files"]) {
    std::string from = unpacked + "/" + f["from"].as<std::string>();
    ASSERT_TRUE(fs::exists(from)) << "the archive has no " << f["from"].as<std::string>();
    EXPECT_EQ(f["to"].as<std::string>(), ".");
    fs::copy_file(from, store + "/" + fs::path(from).filename().string());
  }
  std::string target = store + "/" + p["bin"].as<std::string>();
  struct stat st {};
  ASSERT_EQ(::stat(target.c_str(), &st), 0);
  EXPECT_NE(st.st_mode & S_IXUSR, 0u) << "bin must be executable";
  fs::create_symlink(target, bin + "/kubectl-kdbg");
  auto help = RunCommand({bin + "/kubectl-kdbg", "--help"});
  ASSERT_TRUE(help.ok()) << help.status();
  EXPECT_THAT(*help, HasSubstr("kubectl kdbg trace pod/hello-world"));
  EXPECT_THAT(*help, HasSubstr("kubectl kdbg sessions"));
  EXPECT_THAT(*help, ::testing::Not(HasSubstr("  kdbg trace")));
  for (const char* cmd : {"trace", "funcs", "attach", "sessions"}) {
    auto sub = RunCommand({bin + "/kubectl-kdbg", cmd, "--help"});
    ASSERT_TRUE(sub.ok()) << cmd << ": " << sub.status();
    EXPECT_THAT(*sub, HasSubstr(absl::StrCat("kubectl kdbg ", cmd))) << cmd;
  }
}

TEST_F(KrewTest, PackagingRefusesABadVersionOrAPlainHttpUrl) {
  for (std::vector<std::string> args : {std::vector<std::string>{"v1", "https://x", dir_ + "/o"},
                                        {"1.2.3", "http://x", dir_ + "/o"}}) {
    std::vector<std::string> argv = {testing::SourceDir() + "/scripts/krew-package"};
    argv.insert(argv.end(), args.begin(), args.end());
    auto r = RunCommand(argv);
    EXPECT_FALSE(r.ok()) << args[0] << " " << args[1];
  }
  EXPECT_FALSE(fs::exists(dir_ + "/o/kdbg.yaml"));
}

}  // namespace
}  // namespace kdbg
