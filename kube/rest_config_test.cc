// Kubeconfig loading against every real kubeconfig in kube/testdata/kubeconfig, merging of
// several files, and in-cluster configuration.
#include "kube/rest_config.h"

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/test_env.h"

namespace kdbg::kube {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

std::string Fixture(const std::string& rel) {
  std::ifstream in(kdbg::testing::TestdataDir("kube") + "/kubeconfig/" + rel);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class KubeconfigTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = kdbg::testing::MakeTempDir("kdbg-kubeconfig-"); }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string Write(const std::string& name, const std::string& text) {
    std::string path = dir_ + "/" + name;
    std::filesystem::create_directories(std::filesystem::path(path).parent_path());
    std::ofstream(path) << text;
    return path;
  }
  absl::StatusOr<RestConfig> LoadFile(const std::string& path, const std::string& ctx = "") {
    return LoadKubeconfig({.explicit_path = path, .context = ctx});
  }
  std::string dir_;
};

const char kCaPem[] = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

TEST_F(KubeconfigTest, ExecPluginV1Docs) {
  // The CA path of the docs example is /etc/kubernetes/ca.pem; point it at a real file here.
  std::string ca = Write("ca.pem", kCaPem);
  for (const char* f : {"exec-plugin-client-authentication-v1.docs.yaml",
                        "exec-plugin-client-authentication-v1.docs.json"}) {
    std::string path = Write(f, absl::StrReplaceAll(Fixture(f), {{"/etc/kubernetes/ca.pem", ca}}));
    auto rc = LoadFile(path);
    ASSERT_TRUE(rc.ok()) << f << ": " << rc.status();
    EXPECT_EQ(rc->server, "https://172.17.4.100:6443");
    EXPECT_EQ(rc->ca_pem, kCaPem);
    EXPECT_EQ(rc->context_name, "my-cluster");
    EXPECT_EQ(rc->user_name, "my-user");
    ASSERT_TRUE(rc->exec.has_value());
    EXPECT_EQ(rc->exec->command, "example-client-go-exec-plugin");
    EXPECT_EQ(rc->exec->api_version, "client.authentication.k8s.io/v1");
    EXPECT_THAT(rc->exec->args, ::testing::ElementsAre("arg1", "arg2"));
    ASSERT_EQ(rc->exec->env.size(), 1u);
    EXPECT_EQ(rc->exec->env[0], std::make_pair(std::string("FOO"), std::string("bar")));
    EXPECT_THAT(rc->exec->install_hint, StartsWith("example-client-go-exec-plugin is required"));
    EXPECT_TRUE(rc->exec->provide_cluster_info);
    EXPECT_EQ(rc->exec->interactive_mode, "Never");
  }
}

TEST_F(KubeconfigTest, ExecPluginMissingCaFileIsNotFoundNamingIt) {
  std::string path = Write("c.yaml", Fixture("exec-plugin-client-authentication-v1.docs.yaml"));
  auto rc = LoadFile(path);
  ASSERT_EQ(rc.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(rc.status().message(), HasSubstr("/etc/kubernetes/ca.pem"));
  EXPECT_THAT(rc.status().message(), HasSubstr("certificate-authority in " + path));
}

TEST_F(KubeconfigTest, BearerTokensContextsAndRelativeCaPath) {
  Write("testns/ca.pem", kCaPem);  // certificate-authority: testns/ca.pem, relative to the file
  for (const char* f : {"bearer-token-multi-context-oidc-authprovider.yaml",
                        "bearer-token-multi-context-oidc-authprovider.json"}) {
    std::string path = Write(f, Fixture(f));
    auto rc = LoadFile(path);
    ASSERT_TRUE(rc.ok()) << f << ": " << rc.status();
    EXPECT_EQ(rc->context_name, "testns/172-28-128-4:8443/user");
    EXPECT_EQ(rc->server, "https://172.28.128.4:8443");
    EXPECT_TRUE(rc->insecure_skip_tls_verify);
    EXPECT_EQ(rc->ca_pem, kCaPem);
    EXPECT_EQ(rc->bearer_token, "token");
    EXPECT_EQ(rc->namespace_, "testns");

    auto root = LoadFile(path, "production/172-28-128-4:8443/root");
    ASSERT_TRUE(root.ok()) << root.status();
    EXPECT_EQ(root->bearer_token, "supertoken");
    EXPECT_EQ(root->namespace_, "production");
    EXPECT_EQ(root->user_name, "root/172-28-128-4:8443");

    auto oidc = LoadFile(path, "production/172-28-128-4:8443/mmosley");
    ASSERT_EQ(oidc.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_THAT(oidc.status().message(), HasSubstr("auth-provider \"oidc\""));

    auto unknown = LoadFile(path, "staging");
    ASSERT_EQ(unknown.status().code(), absl::StatusCode::kNotFound);
    EXPECT_THAT(unknown.status().message(), HasSubstr("context \"staging\" not found"));
    EXPECT_THAT(unknown.status().message(), HasSubstr("production/172-28-128-4:8443/root"));
  }
}

TEST_F(KubeconfigTest, ClientCertificateDataAndServerWithoutScheme) {
  for (const char* f : {"client-certificate-data-kubeadm-admin.yaml",
                        "client-certificate-data-kubeadm-admin.json"}) {
    auto rc = LoadFile(Write(f, Fixture(f)));
    ASSERT_TRUE(rc.ok()) << f << ": " << rc.status();
    EXPECT_EQ(rc->server, "https://localhost:443");
    EXPECT_THAT(rc->client_cert_pem, StartsWith("-----BEGIN CERTIFICATE-----\nMIID"));
    EXPECT_THAT(rc->client_key_pem, HasSubstr("FAKEPRIVATEKEYDATA"));
    EXPECT_EQ(rc->ca_pem, "");
    EXPECT_EQ(rc->user_name, "fake-user");
  }
}

TEST_F(KubeconfigTest, EksAwsCliExecV1beta1) {
  for (const char* f : {"eks-aws-cli-update-kubeconfig-two-clusters-exec-get-token.yaml",
                        "eks-aws-cli-update-kubeconfig-two-clusters-exec-get-token.json"}) {
    auto rc = LoadFile(Write(f, Fixture(f)));
    ASSERT_TRUE(rc.ok()) << f << ": " << rc.status();
    EXPECT_EQ(rc->context_name, "arn:aws:eks:region:111222333444:cluster/ExampleCluster");
    ASSERT_TRUE(rc->exec.has_value());
    EXPECT_EQ(rc->exec->command, "aws");
    EXPECT_EQ(rc->exec->api_version, "client.authentication.k8s.io/v1beta1");
    EXPECT_THAT(rc->exec->args, ::testing::Contains("get-token"));
    EXPECT_THAT(rc->server, StartsWith("https://"));
  }
}

TEST_F(KubeconfigTest, EksctlV1alpha1ExecIsRejectedWithUpgradeAdvice) {
  for (const char* f : {"eksctl-two-clusters-exec-v1alpha1-aws-iam-authenticator.yaml",
                        "eksctl-two-clusters-exec-v1alpha1-aws-iam-authenticator.json"}) {
    auto rc = LoadFile(Write(f, Fixture(f)));
    ASSERT_EQ(rc.status().code(), absl::StatusCode::kFailedPrecondition) << f << rc.status();
    EXPECT_THAT(rc.status().message(), HasSubstr("aws-iam-authenticator"));
    EXPECT_THAT(rc.status().message(), HasSubstr("v1alpha1"));
  }
}

TEST_F(KubeconfigTest, MultiClusterMinikubeClientCertFilesAndEksBadCaData) {
  std::string ca = Write("mk/ca.crt", kCaPem);
  std::string crt = Write("mk/client.crt", "CERT");
  std::string key = Write("mk/client.key", "KEY");
  for (const char* f : {"multi-cluster-eks-exec-minikube-extensions-impersonation.yaml",
                        "multi-cluster-eks-exec-minikube-extensions-impersonation.json"}) {
    std::string text = Fixture(f);
    // As published, the minikube files do not exist here.
    auto missing = LoadFile(Write(f, text));
    ASSERT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
    EXPECT_THAT(missing.status().message(), HasSubstr("/home/kevin/.minikube/ca.crt"));

    text = absl::StrReplaceAll(text, {{"/home/kevin/.minikube/ca.crt", ca},
                                      {"/home/kevin/.minikube/profiles/minikube/client.crt", crt},
                                      {"/home/kevin/.minikube/profiles/minikube/client.key", key}});
    auto rc = LoadFile(Write(f, text));
    ASSERT_TRUE(rc.ok()) << f << ": " << rc.status();
    EXPECT_EQ(rc->context_name, "minikube");
    EXPECT_EQ(rc->server, "https://192.168.49.2:8443");
    EXPECT_EQ(rc->client_cert_pem, "CERT");
    EXPECT_EQ(rc->client_key_pem, "KEY");
    EXPECT_EQ(rc->namespace_, "default");
    // As published, the "eks" context names its cluster by ARN while the cluster is named "eks".
    auto eks = LoadFile(dir_ + "/" + f, "eks");
    ASSERT_EQ(eks.status().code(), absl::StatusCode::kFailedPrecondition) << eks.status();
    EXPECT_THAT(eks.status().message(),
                HasSubstr("uses cluster \"arn:aws:eks:us-west-2:012345678912:cluster/eks\", which "
                          "no kubeconfig file defines"));
    // Pointing it at the cluster reaches its CA data, truncated ("LS0t<SNIP>LS0tLQo=").
    std::string fixed = absl::StrReplaceAll(
        text, {{"cluster: arn:aws:eks:us-west-2:012345678912:cluster/eks", "cluster: eks"},
               {"\"cluster\": \"arn:aws:eks:us-west-2:012345678912:cluster/eks\"",
                "\"cluster\": \"eks\""}});
    auto bad_ca = LoadFile(Write(f, fixed), "eks");
    ASSERT_EQ(bad_ca.status().code(), absl::StatusCode::kInvalidArgument) << bad_ca.status();
    EXPECT_THAT(bad_ca.status().message(),
                HasSubstr("certificate-authority-data is not valid base64"));
  }
}

TEST_F(KubeconfigTest, UsersOnlyFileHasNoContext) {
  for (const char* f : {"exec-kubelogin-azure-aks-users-only.docs.yaml",
                        "exec-kubelogin-azure-aks-users-only.docs.json"}) {
    auto rc = LoadFile(Write(f, Fixture(f)));
    ASSERT_EQ(rc.status().code(), absl::StatusCode::kFailedPrecondition) << f << rc.status();
    EXPECT_THAT(rc.status().message(), HasSubstr("no current-context"));
  }
}

TEST_F(KubeconfigTest, EveryFixtureGivesTheSameAnswerAsYamlAndJson) {
  for (const auto& e :
       std::filesystem::directory_iterator(kdbg::testing::TestdataDir("kube") + "/kubeconfig")) {
    std::string name = e.path().filename();
    if (!absl::EndsWith(name, ".yaml")) continue;
    std::string json_name = name.substr(0, name.size() - 5) + ".json";
    auto a = LoadFile(e.path());
    auto b = LoadFile(e.path().parent_path() / json_name);
    EXPECT_EQ(a.status().code(), b.status().code()) << name;
    if (a.ok() && b.ok()) {
      EXPECT_EQ(a->server, b->server);
      EXPECT_EQ(a->bearer_token, b->bearer_token);
    }
  }
}

TEST_F(KubeconfigTest, MergesKubeconfigListFirstWins) {
  std::string a = Write("a.yaml", R"(
apiVersion: v1
kind: Config
clusters:
- name: shared
  cluster: {server: "https://first:6443"}
users:
- name: alice
  user: {token: from-a}
contexts:
- name: dev
  context: {cluster: shared, user: alice, namespace: team-a}
)");
  std::string b = Write("b.yaml", R"(
apiVersion: v1
kind: Config
current-context: dev
clusters:
- name: shared
  cluster: {server: "https://second:6443"}
- name: other
  cluster: {server: "https://other:6443/"}
users:
- name: alice
  user: {token: from-b}
- name: bob
  user: {tokenFile: bob.token}
contexts:
- name: dev
  context: {cluster: other, user: bob}
- name: prod
  context: {cluster: other, user: bob}
)");
  KubeconfigOptions opts{.kubeconfig_env = dir_ + "/missing.yaml:" + a + ":" + b};
  auto rc = LoadKubeconfig(opts);
  ASSERT_TRUE(rc.ok()) << rc.status();
  EXPECT_EQ(rc->context_name, "dev");           // current-context only set by b
  EXPECT_EQ(rc->server, "https://first:6443");  // context "dev" from a, cluster "shared" from a
  EXPECT_EQ(rc->bearer_token, "from-a");
  EXPECT_EQ(rc->namespace_, "team-a");
  opts.context = "prod";
  rc = LoadKubeconfig(opts);
  ASSERT_TRUE(rc.ok()) << rc.status();
  EXPECT_EQ(rc->server, "https://other:6443");     // trailing slash dropped
  EXPECT_EQ(rc->token_file, dir_ + "/bob.token");  // relative to b.yaml

  // Order matters: b first.
  rc = LoadKubeconfig({.kubeconfig_env = b + ":" + a});
  ASSERT_TRUE(rc.ok()) << rc.status();
  EXPECT_EQ(rc->server, "https://other:6443");
  EXPECT_EQ(rc->user_name, "bob");
}

TEST_F(KubeconfigTest, PrecedenceExplicitThenEnvThenHome) {
  std::string home_cfg = Write("home/.kube/config", R"(
current-context: h
clusters: [{name: c, cluster: {server: "https://home"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: h, context: {cluster: c, user: u}}]
)");
  std::string env_cfg = Write("env.yaml", R"(
current-context: h
clusters: [{name: c, cluster: {server: "https://env"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: h, context: {cluster: c, user: u}}]
)");
  auto home = LoadKubeconfig({.home_dir = dir_ + "/home"});
  ASSERT_TRUE(home.ok()) << home.status();
  EXPECT_EQ(home->server, "https://home");
  auto env = LoadKubeconfig({.kubeconfig_env = env_cfg, .home_dir = dir_ + "/home"});
  ASSERT_TRUE(env.ok());
  EXPECT_EQ(env->server, "https://env");
  auto expl = LoadKubeconfig(
      {.explicit_path = home_cfg, .kubeconfig_env = env_cfg, .home_dir = dir_ + "/home"});
  ASSERT_TRUE(expl.ok());
  EXPECT_EQ(expl->server, "https://home");
}

TEST_F(KubeconfigTest, ClearErrors) {
  auto missing = LoadKubeconfig({.explicit_path = dir_ + "/nope.yaml"});
  ASSERT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr(dir_ + "/nope.yaml"));
  EXPECT_THAT(missing.status().message(), HasSubstr("--kubeconfig"));

  auto none = LoadKubeconfig({.kubeconfig_env = dir_ + "/x:" + dir_ + "/y"});
  ASSERT_EQ(none.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(none.status().message(), HasSubstr("no kubeconfig found"));

  auto bad = LoadFile(Write("bad.yaml", "clusters: [ {name: x"));
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(), HasSubstr("not valid YAML"));

  auto no_user = LoadFile(Write("nouser.yaml", R"(
current-context: x
clusters: [{name: c, cluster: {server: "https://h"}}]
contexts: [{name: x, context: {cluster: c}}]
)"));
  ASSERT_EQ(no_user.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(no_user.status().message(), HasSubstr("names no user"));

  auto no_cluster = LoadFile(Write("nocluster.yaml", R"(
current-context: x
users: [{name: u, user: {token: t}}]
contexts: [{name: x, context: {cluster: gone, user: u}}]
)"));
  ASSERT_EQ(no_cluster.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(no_cluster.status().message(), HasSubstr("cluster \"gone\""));

  auto ctx_without_cluster = LoadFile(Write("noc2.yaml", R"(
current-context: x
users: [{name: u, user: {token: t}}]
contexts: [{name: x, context: {user: u}}]
)"));
  ASSERT_EQ(ctx_without_cluster.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(ctx_without_cluster.status().message(), HasSubstr("names no cluster"));
}

TEST_F(KubeconfigTest, InClusterConfig) {
  Write("sa/token", "sa-token\n");
  Write("sa/ca.crt", kCaPem);
  Write("sa/namespace", "kdbg-system");
  auto rc =
      InClusterConfig({.root = dir_ + "/sa", .service_host = "10.96.0.1", .service_port = "443"});
  ASSERT_TRUE(rc.ok()) << rc.status();
  EXPECT_EQ(rc->server, "https://10.96.0.1:443");
  EXPECT_EQ(rc->token_file, dir_ + "/sa/token");
  EXPECT_EQ(rc->ca_pem, kCaPem);
  EXPECT_EQ(rc->namespace_, "kdbg-system");
  auto v6 =
      InClusterConfig({.root = dir_ + "/sa", .service_host = "fd00::1", .service_port = "6443"});
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->server, "https://[fd00::1]:6443");

  auto not_in_pod = InClusterConfig({.root = dir_ + "/sa"});
  EXPECT_EQ(not_in_pod.status().code(), absl::StatusCode::kFailedPrecondition);
  auto no_token =
      InClusterConfig({.root = dir_ + "/none", .service_host = "h", .service_port = "1"});
  ASSERT_EQ(no_token.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(no_token.status().message(), HasSubstr("automountServiceAccountToken"));
}

}  // namespace
}  // namespace kdbg::kube
