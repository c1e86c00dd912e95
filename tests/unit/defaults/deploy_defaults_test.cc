// The shipped manifests agree with the binaries' defaults; each kind of drift is caught.
// (The chart rendered with its default values is checked by `tests/deploy/deploy-test.sh
// defaults`, ctest deploy.defaults, with the same function.)
#include "tests/unit/defaults/deploy_defaults.h"

#include <fstream>
#include <sstream>

#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/test_env.h"

namespace kdbg::deploycheck {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

std::string Slurp(const std::string& rel) {
  std::ifstream in(kdbg::testing::SourceDir() + "/" + rel);
  std::stringstream ss;
  ss << in.rdbuf();
  EXPECT_FALSE(ss.str().empty()) << rel;
  return ss.str();
}

// Replaces exactly one occurrence of `from` (so the test breaks loudly if the manifest changes).
std::string ReplaceOnce(const std::string& text, const std::string& from, const std::string& to) {
  size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  EXPECT_EQ(text.find(from, at + 1), std::string::npos) << "more than one " << from;
  if (at == std::string::npos) return text;
  return text.substr(0, at) + to + text.substr(at + from.size());
}

class DeployDefaultsTest : public ::testing::Test {
 protected:
  std::string manifests_ = Slurp("deploy/manifests/kdbg.yaml");
  std::string cert_manager_ = Slurp("deploy/manifests/cert-manager.yaml");
};

TEST_F(DeployDefaultsTest, ShippedManifestsAgreeWithTheBinaries) {
  EXPECT_THAT(CheckDeployDefaults({manifests_, cert_manager_}), IsEmpty());
}

TEST_F(DeployDefaultsTest, ServicePortTheCliDoesNotForwardTo) {
  std::string broken = ReplaceOnce(manifests_, "      port: 443\n", "      port: 8443\n");
  EXPECT_THAT(CheckDeployDefaults({broken}),
              ElementsAre(HasSubstr("port 8443, but the CLI port-forwards to port 443")));
}

TEST_F(DeployDefaultsTest, ControllerListeningOffItsContainerPort) {
  std::string broken =
      ReplaceOnce(manifests_, "            - 0.0.0.0:7443\n            - --tls-cert",
                  "            - 0.0.0.0:7444\n            - --tls-cert");
  auto problems = CheckDeployDefaults({broken});
  ASSERT_THAT(problems, ::testing::SizeIs(2));
  EXPECT_THAT(problems[0], HasSubstr("targetPort grpc is port 7443, but kdbg-controller listens "
                                     "on 0.0.0.0:7444"));
  EXPECT_THAT(problems[1], HasSubstr("container port grpc is 7443"));
}

TEST_F(DeployDefaultsTest, AgentsInAnotherNamespaceOrPort) {
  std::string broken = ReplaceOnce(manifests_, "            - --agent-port\n            - \"7443\"",
                                   "            - --agent-port\n            - \"7445\"");
  EXPECT_THAT(CheckDeployDefaults({broken}),
              ElementsAre(HasSubstr("the controller dials agents on port 7445")));
  broken = ReplaceOnce(manifests_, "            - --agent-namespace\n            - kdbg-system",
                       "            - --agent-namespace\n            - kdbg");
  EXPECT_THAT(CheckDeployDefaults({broken}),
              ::testing::Contains(HasSubstr("looks for agents in namespace kdbg")));
}

TEST_F(DeployDefaultsTest, PolicyLeaseCapsDifferingFromTheController) {
  std::string broken = ReplaceOnce(manifests_, "maxLease: \"30m\"", "maxLease: \"45m\"");
  EXPECT_THAT(CheckDeployDefaults({broken}),
              ElementsAre(HasSubstr("maxLease is 45m, the controller's built-in default is 30m")));
  broken = ReplaceOnce(manifests_, "maxLease: \"30m\"", "maxLease: \"2h\"");
  auto problems = CheckDeployDefaults({broken});
  EXPECT_THAT(problems, ::testing::Contains(HasSubstr("the agent caps leases at 1h")));
}

TEST_F(DeployDefaultsTest, PolicyPodCapDifferingFromTheControllerOrMissing) {
  std::string broken = ReplaceOnce(manifests_, "maxPodsPerSession: 10", "maxPodsPerSession: 12");
  EXPECT_THAT(CheckDeployDefaults({broken}),
              ElementsAre(HasSubstr("maxPodsPerSession is 12, the controller's built-in default "
                                    "is 10")));
  broken = ReplaceOnce(manifests_, "    maxPodsPerSession: 10\n", "");
  EXPECT_THAT(CheckDeployDefaults({broken}),
              ElementsAre(HasSubstr("the policy does not state maxPodsPerSession")));
}

TEST_F(DeployDefaultsTest, CertificateWithoutTheNameTheCliChecks) {
  std::string broken = ReplaceOnce(cert_manager_, "    - kdbg-controller.kdbg-system.svc\n", "");
  EXPECT_THAT(CheckDeployDefaults({manifests_, broken}),
              ElementsAre(HasSubstr("dnsNames lack kdbg-controller.kdbg-system.svc")));
}

TEST_F(DeployDefaultsTest, MissingObjectsAndBadYaml) {
  EXPECT_THAT(CheckDeployDefaults({cert_manager_}),
              ::testing::Contains(HasSubstr("Service kdbg-controller is missing")));
  EXPECT_THAT(CheckDeployDefaults({"a: [1"}), ElementsAre(HasSubstr("YAML")));
}

}  // namespace
}  // namespace kdbg::deploycheck
