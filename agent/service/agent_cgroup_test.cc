#include "agent/service/agent_cgroup.h"

#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "gtest/gtest.h"

namespace kdbg::agent {
namespace {

namespace fs = std::filesystem;

class AgentCgroupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/kdbg-cgroup-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    root_ = tmpl;
  }
  void TearDown() override { fs::remove_all(root_); }
  void Write(const std::string& rel, const std::string& text) {
    fs::create_directories(fs::path(root_ + "/" + rel).parent_path());
    std::ofstream(root_ + "/" + rel) << text;
  }
  std::string Read(const std::string& rel) {
    std::ifstream in(root_ + "/" + rel);
    std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return s;
  }
  std::string root_;
};

constexpr char kSelf[] =
    "5:devices:/kdbg-node-a/kubepods/besteffort/pod1/abc\n"
    "3:cpuset:/kdbg-node-a/kubepods/besteffort/pod1/abc\n"
    "0::/\n";

TEST_F(AgentCgroupTest, CreatesNextToThePodsInEveryV1Hierarchy) {
  Write("devices/cgroup.procs", "");
  Write("cpuset/cgroup.procs", "");
  Write("cpuset/cpuset.cpus", "0-1\n");
  Write("cpuset/cpuset.mems", "0\n");
  // What the kernel creates in a new cpuset: empty cpus and mems files.
  Write("cpuset/kdbg-node-a/cpuset.cpus", "");
  Write("cpuset/kdbg-node-a/cpuset.mems", "");
  fs::create_symlink("devices", root_ + "/devices-link");  // like cpu -> cpu,cpuacct
  fs::create_directories(root_ + "/empty");                // no cgroup.procs: not a hierarchy

  absl::StatusOr<std::vector<std::string>> procs = PrepareOutsideContainerCgroup(root_, kSelf);
  ASSERT_TRUE(procs.ok()) << procs.status();
  EXPECT_EQ(*procs, (std::vector<std::string>{
                        root_ + "/cpuset/kdbg-node-a/kubepods/kdbg-agent/cgroup.procs",
                        root_ + "/devices/kdbg-node-a/kubepods/kdbg-agent/cgroup.procs"}));
  EXPECT_TRUE(fs::is_directory(root_ + "/devices/kdbg-node-a/kubepods/kdbg-agent"));
  EXPECT_EQ(Read("cpuset/kdbg-node-a/cpuset.cpus"), "0-1");
  EXPECT_EQ(Read("cpuset/kdbg-node-a/cpuset.mems"), "0");
  // Idempotent.
  absl::StatusOr<std::vector<std::string>> again = PrepareOutsideContainerCgroup(root_, kSelf);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, *procs);
}

TEST_F(AgentCgroupTest, CgroupV2IsOneTree) {
  Write("cgroup.procs", "");
  absl::StatusOr<std::vector<std::string>> procs =
      PrepareOutsideContainerCgroup(root_, "0::/kubepods.slice/kubepods-pod1.slice/cri-x.scope\n");
  ASSERT_TRUE(procs.ok()) << procs.status();
  EXPECT_EQ(*procs, (std::vector<std::string>{root_ + "/kubepods.slice/kdbg-agent/cgroup.procs"}));
}

TEST_F(AgentCgroupTest, NotInAPodNothingToLeave) {
  absl::StatusOr<std::vector<std::string>> procs =
      PrepareOutsideContainerCgroup(root_, "0::/user.slice/user-0.slice/session-1.scope\n");
  ASSERT_TRUE(procs.ok());
  EXPECT_TRUE(procs->empty());
}

TEST_F(AgentCgroupTest, ErrorsNameWhatIsMissing) {
  absl::StatusOr<std::vector<std::string>> procs = PrepareOutsideContainerCgroup(root_, kSelf);
  ASSERT_FALSE(procs.ok());
  EXPECT_EQ(procs.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(procs.status().message().find("no cgroup hierarchy under " + root_), std::string::npos)
      << procs.status();
  procs = PrepareOutsideContainerCgroup(root_ + "/nonexistent", kSelf);
  ASSERT_FALSE(procs.ok());
  EXPECT_NE(procs.status().message().find("cannot read the host's cgroup tree"), std::string::npos);
  if (::geteuid() != 0) {
    Write("devices/cgroup.procs", "");
    ::chmod((root_ + "/devices").c_str(), 0555);
    procs = PrepareOutsideContainerCgroup(root_, kSelf);
    ASSERT_FALSE(procs.ok());
    EXPECT_NE(
        procs.status().message().find("cannot create cgroup " + root_ + "/devices/kdbg-node-a"),
        std::string::npos)
        << procs.status();
  }
}

}  // namespace
}  // namespace kdbg::agent
