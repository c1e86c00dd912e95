#include "agent/resolver/container_ref.h"

#include <dirent.h>

#include <fstream>
#include <set>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/support/test_env.h"

namespace kdbg::agent {
namespace {

std::string ReadFrom(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}
// agent/resolver/testdata/cgroup/...
std::string ReadFixture(const std::string& rel) {
  return ReadFrom(kdbg::testing::TestdataDir("agent/resolver") + "/" + rel);
}
// kube/testdata/pods/...: the real Pod objects, for their containerIDs.
std::string ReadKubeFixture(const std::string& rel) {
  return ReadFrom(kdbg::testing::TestdataDir("kube") + "/" + rel);
}

struct CgroupCase {
  std::string file;
  std::string id;  // "" when no container is named
  std::string runtime;
  std::string layout;
  std::string pod_uid;
};

// Every file in testdata/cgroup, with what a person reading it would conclude.
const CgroupCase kCases[] = {
    {"cgroupfs-v1-containerd-1.2.13.txt",
     "5dd96d5394ca930a854a390ea46f7515a8bc930123eb3251ba20f2708a38fc61", "", "cgroupfs",
     "a36d0c1d-0b26-4451-8d80-9c195e004afa"},
    {"cgroupfs-v1-docker-kubepods-burstable-init-container.txt",
     "34a2062fd26c805aa8cf814cdfe479322b791f80afb9ea4db02d50375df14b41", "", "cgroupfs",
     "d488cae9-b2a0-11e7-9350-020968147796"},
    {"cgroupfs-v1-docker-kubepods-burstable.txt",
     "9bca8d63d5fa610783847915bcff0ecac1273e5b4bed3f6fa1b07350e0135961", "", "cgroupfs",
     "2c48913c-b29f-11e7-9350-020968147796"},
    {"kind-v1-docker-nested-containerd.txt",
     "09bc3d7ade839efec32b6bec4ec79d099027a668ddba043083ec21d3c3b8f1e6", "", "cgroupfs",
     "a2830d0d-b0f0-4ff0-81b5-0ee4e299cf80"},
    {"systemd-v1-crio-1.17-openshift-4.4-static-pod.txt",
     "7a1fd6fe8cdfbd44dc78c4cc85dad7031eaab4365801684cad0aabdeaf863f9e", "cri-o", "systemd crio",
     "487a0dc6dccaeefbcfedba7a7ce1ca18"},
    {"systemd-v1-crio-1.19-openshift-4.6.txt",
     "d6d725b909f37c3e232aadfbafa950a58bfe7baa579ba8c47a12be88bb921607", "cri-o", "systemd crio",
     "8ca306fa-3c03-47fa-97dd-19979c345572"},
    {"systemd-v1-crio-kubepods-slice-hybrid.txt",
     "09bc3d7ade839efec32b6bec4ec79d099027a668ddba043083ec21d3c3b8f1e6", "cri-o", "systemd crio",
     "a2830d0d-b0f0-4ff0-81b5-0ee4e299cf80"},
    {"systemd-v1-docker-kubepods-slice.txt",
     "9bca8d63d5fa610783847915bcff0ecac1273e5b4bed3f6fa1b07350e0135961", "docker", "systemd docker",
     "2c48913c-b29f-11e7-9350-020968147796"},
    {"systemd-v1-hybrid-containerd-bottlerocket.txt",
     "f45298cd514d1930c4fe3afc4412e59547f7e3148fddd22ca33cefce046eb830", "containerd",
     "systemd cri-containerd", "dd1bf9d1-241d-47f5-8e25-12de83135812"},
    {"systemd-v2-containerd-1.6-k8s-1.24.txt",
     "25d057a4c6c9555f2a0eb106e8896968c28f1c44aca4754174851aca7f89ad26", "containerd",
     "systemd cri-containerd", "9493223b-520e-4a97-a45f-359dcf967006"},
    {"systemd-v2-crio-k8s-1.22-kubic.txt",
     "f33f47b0db740bb647cb3e7ac62d96c74966dbb99cbfaf4563bfd42d387e8b44", "cri-o", "systemd crio",
     "042efd86-1f3b-4f2f-8736-f31c58e95bbc"},
    {"v1-containerd-1.4.4-systemd-colon-format.txt",
     "d3d8ccf5cca91931c6285c1d7472c413dd5a7700fddc0aa9f89a9ac7008b003e", "containerd",
     "systemd colon cri-containerd", "2105e389-7471-476e-a50f-6074cef29bbd"},
    {"v1-not-in-pod-user-slice.txt", "", "", "", ""},
    {"v2-crio-namespaced-relative.txt",
     "09bc3d7ade839efec32b6bec4ec79d099027a668ddba043083ec21d3c3b8f1e6", "cri-o", "systemd crio",
     ""},
    {"v2-docker-k8s-namespaced-relative.txt",
     "2cc65c162ca1388b6b8d5ccfb701d22fc96675ccf8b2f1590c490c2c4039547f", "docker", "systemd docker",
     "fd698699-eabf-4c23-92ef-cf0bbdb78261"},
    {"v2-inside-container-self-root.txt", "", "", "", ""},
};

TEST(CgroupFixtures, EveryRealWorldFileMatchesAsExpected) {
  std::set<std::string> covered;
  for (const CgroupCase& c : kCases) {
    SCOPED_TRACE(c.file);
    std::string text = ReadFixture("cgroup/" + c.file);
    ASSERT_FALSE(text.empty()) << "fixture missing";
    covered.insert(c.file);
    std::optional<CgroupMatch> m = MatchCgroupFile(text);
    if (c.id.empty()) {
      EXPECT_FALSE(m.has_value()) << m->id;
      continue;
    }
    ASSERT_TRUE(m.has_value());
    EXPECT_EQ(m->id, c.id);
    EXPECT_EQ(m->runtime, c.runtime);
    EXPECT_EQ(m->layout, c.layout);
    EXPECT_EQ(m->pod_uid, c.pod_uid);
    EXPECT_EQ(m->role, CgroupRole::kContainer);
  }
  // A new fixture file must get a row here.
  DIR* d = opendir((kdbg::testing::TestdataDir("agent/resolver") + "/cgroup").c_str());
  ASSERT_NE(d, nullptr);
  while (dirent* e = readdir(d)) {
    std::string n = e->d_name;
    if (n.size() > 4 && n.substr(n.size() - 4) == ".txt") {
      EXPECT_TRUE(covered.count(n)) << n << " has no test row";
    }
  }
  closedir(d);
}

TEST(CgroupFixtures, HybridFileNamesContainerOnSomeLinesOnly) {
  std::string text = ReadFixture("cgroup/systemd-v1-crio-kubepods-slice-hybrid.txt");
  std::vector<CgroupLine> lines = ParseCgroupFile(text);
  ASSERT_EQ(lines.size(), 13u);
  EXPECT_EQ(lines.back().hierarchy, "0");
  EXPECT_EQ(lines.back().controllers, "");
  EXPECT_EQ(lines.back().path, "/system.slice/crio.service");
  EXPECT_FALSE(MatchCgroupPath(lines.back().path).has_value());
  EXPECT_EQ(lines[2].controllers, "pids");
}

TEST(CgroupFixtures, NamespaceRootIsRecognised) {
  EXPECT_TRUE(CgroupIsNamespaceRoot(ReadFixture("cgroup/v2-inside-container-self-root.txt")));
  EXPECT_FALSE(CgroupIsNamespaceRoot(ReadFixture("cgroup/v2-crio-namespaced-relative.txt")));
}

TEST(MatchCgroupPath, MonitorAndNestedScopes) {
  const std::string id = "09bc3d7ade839efec32b6bec4ec79d099027a668ddba043083ec21d3c3b8f1e6";
  auto conmon =
      MatchCgroupPath("/kubepods.slice/kubepods-besteffort.slice/crio-conmon-" + id + ".scope");
  ASSERT_TRUE(conmon);
  EXPECT_EQ(conmon->role, CgroupRole::kMonitor);
  EXPECT_EQ(conmon->id, id);
  // A sub-cgroup inside the container still belongs to it.
  auto inner = MatchCgroupPath("/kubepods/besteffort/pod1/" + id + "/init.scope");
  ASSERT_TRUE(inner);
  EXPECT_EQ(inner->id, id);
  // CRI-O with the cgroupfs driver.
  auto crio = MatchCgroupPath("/kubepods/burstable/podx/crio-" + id);
  ASSERT_TRUE(crio);
  EXPECT_EQ(crio->runtime, "cri-o");
  // 63 hex characters are no container ID.
  EXPECT_FALSE(MatchCgroupPath("/kubepods/" + id.substr(1)));
}

TEST(ParseContainerRef, AcceptsKubernetesForms) {
  auto r = ParseContainerRef(
      "containerd://5DD96D5394ca930a854a390ea46f7515a8bc930123eb3251ba20f2708a38fc61");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->runtime, "containerd");
  EXPECT_EQ(r->id, "5dd96d5394ca930a854a390ea46f7515a8bc930123eb3251ba20f2708a38fc61");
  EXPECT_EQ(ParseContainerRef("cri-o://0123456789ab")->runtime, "cri-o");
  EXPECT_EQ(ParseContainerRef("0123456789abcdef")->runtime, "");
  EXPECT_EQ(ParseContainerRef("rkt://0123456789ab").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseContainerRef("containerd://xyz").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseContainerRef("").status().code(), absl::StatusCode::kInvalidArgument);
}

// Every containerID in the real pod objects parses, with the runtime its prefix names.
TEST(ParseContainerRef, EveryContainerIdInPodFixtures) {
  int seen = 0;
  DIR* d = opendir((kdbg::testing::TestdataDir("kube") + "/pods").c_str());
  ASSERT_NE(d, nullptr);
  while (dirent* e = readdir(d)) {
    std::string n = e->d_name;
    if (n.size() < 5 || n.substr(n.size() - 5) != ".json") continue;
    nlohmann::json pod = nlohmann::json::parse(ReadKubeFixture("pods/" + n), nullptr, false);
    ASSERT_FALSE(pod.is_discarded()) << n;
    for (const char* list : {"containerStatuses", "initContainerStatuses"}) {
      if (!pod["status"].contains(list)) continue;
      for (const auto& cs : pod["status"][list]) {
        if (!cs.contains("containerID")) continue;
        std::string cid = cs["containerID"];
        SCOPED_TRACE(absl::StrCat(n, ": ", cid));
        auto r = ParseContainerRef(cid);
        ASSERT_TRUE(r.ok()) << r.status();
        EXPECT_EQ(r->id.size(), 64u);
        EXPECT_EQ(cid.substr(0, cid.find("://")), r->runtime);
        // The same ID as a runtime would write it in a cgroup path is matched back.
        std::string path = r->runtime == "containerd" ? "/kubepods/besteffort/podx/" + r->id
                           : r->runtime == "cri-o"    ? "/kubepods.slice/crio-" + r->id + ".scope"
                                                   : "/kubepods.slice/docker-" + r->id + ".scope";
        auto m = MatchCgroupPath(path);
        ASSERT_TRUE(m);
        EXPECT_TRUE(SameContainerId(r->id, m->id));
        ++seen;
      }
    }
  }
  closedir(d);
  EXPECT_GT(seen, 10);
}

}  // namespace
}  // namespace kdbg::agent

namespace kdbg::agent {
namespace {

TEST(NodePodCgroupRoot, FromTheAgentsOwnCgroup) {
  EXPECT_EQ(NodePodCgroupRoot("12:pids:/kubepods/besteffort/pod1/abc\n0::/\n"), "/kubepods");
  EXPECT_EQ(NodePodCgroupRoot("0::/kubepods.slice/kubepods-burstable.slice/x.scope\n"),
            "/kubepods.slice");
  EXPECT_EQ(NodePodCgroupRoot("11:pids:/kdbg-node-a/kubepods/burstable/pod1/abc\n"),
            "/kdbg-node-a/kubepods");
  EXPECT_EQ(NodePodCgroupRoot("12:pids:/docker/9352/kubepods/besteffort/pod1/abc\n"),
            "/docker/9352/kubepods");
  EXPECT_EQ(NodePodCgroupRoot("0::/\n"), "");
  EXPECT_EQ(NodePodCgroupRoot("0::/user.slice/user-0.slice/session-1.scope\n"), "");
  EXPECT_EQ(NodePodCgroupRoot(""), "");
}

TEST(CgroupFileUnder, WholeSegmentsOnly) {
  EXPECT_TRUE(CgroupFileUnder("11:pids:/kdbg-node-a/kubepods/besteffort/pod1/abc\n",
                              "/kdbg-node-a/kubepods"));
  EXPECT_FALSE(CgroupFileUnder("11:pids:/kdbg-node-b/kubepods/besteffort/pod1/abc\n",
                               "/kdbg-node-a/kubepods"));
  EXPECT_FALSE(CgroupFileUnder("0::/kubepods2/x\n", "/kubepods"));
  EXPECT_TRUE(CgroupFileUnder("0::/kubepods\n", "/kubepods"));
  EXPECT_TRUE(
      CgroupFileUnder("0::/kubepods.slice/kubepods-besteffort.slice/y\n", "/kubepods.slice"));
  EXPECT_FALSE(CgroupFileUnder("", "/kubepods"));
}

}  // namespace
}  // namespace kdbg::agent
