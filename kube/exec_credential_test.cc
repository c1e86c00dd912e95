// ExecCredential parsing against the documented examples, and real plugin runs (small shell
// scripts) with an injected clock for expiry.
#include "kube/exec_credential.h"

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/testing/fake_clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/test_env.h"

namespace kdbg::kube {
namespace {

using ::testing::HasSubstr;

constexpr char kV1[] = "client.authentication.k8s.io/v1";
constexpr char kV1beta1[] = "client.authentication.k8s.io/v1beta1";

std::string Fixture(const std::string& name) {
  std::ifstream in(kdbg::testing::TestdataDir("kube") + "/execcredential/" + name);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(ParseExecCredentialTest, DocumentedExamples) {
  auto token = ParseExecCredential(Fixture("execcredential-v1-token.docs.json"), kV1);
  ASSERT_TRUE(token.ok()) << token.status();
  EXPECT_EQ(token->token, "my-bearer-token");
  EXPECT_FALSE(token->expiry.has_value());

  auto exp = ParseExecCredential(Fixture("execcredential-v1-token-with-expiry.docs.json"), kV1);
  ASSERT_TRUE(exp.ok()) << exp.status();
  ASSERT_TRUE(exp->expiry.has_value());
  // 2018-03-05T17:30:20-08:00 == 2018-03-06T01:30:20Z
  EXPECT_EQ(absl::ToUnixSeconds(*exp->expiry), 1520299820);

  auto beta =
      ParseExecCredential(Fixture("execcredential-v1beta1-token-with-expiry.docs.json"), kV1beta1);
  ASSERT_TRUE(beta.ok()) << beta.status();
  EXPECT_EQ(beta->token, "my-bearer-token");

  auto cert = ParseExecCredential(Fixture("execcredential-v1-client-certificate.docs.json"), kV1);
  ASSERT_TRUE(cert.ok()) << cert.status();
  EXPECT_EQ(cert->client_cert_pem, "-----BEGIN CERTIFICATE-----\n...\n-----END CERTIFICATE-----");
  EXPECT_THAT(cert->client_key_pem, HasSubstr("BEGIN RSA PRIVATE KEY"));
}

TEST(ParseExecCredentialTest, Rejections) {
  // The input object (KUBERNETES_EXEC_INFO) carries no credential.
  EXPECT_FALSE(
      ParseExecCredential(Fixture("execcredential-v1-input-kubernetes-exec-info.docs.json"), kV1)
          .ok());
  auto mismatch = ParseExecCredential(Fixture("execcredential-v1-token.docs.json"), kV1beta1);
  ASSERT_FALSE(mismatch.ok());
  EXPECT_THAT(mismatch.status().message(), HasSubstr("asks for " + std::string(kV1beta1)));
  EXPECT_FALSE(ParseExecCredential("not json", kV1).ok());
  EXPECT_FALSE(ParseExecCredential(R"({"kind":"Pod"})", kV1).ok());
  EXPECT_FALSE(ParseExecCredential(
                   R"({"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1",
                       "status":{"token":"t","expirationTimestamp":"yesterday"}})",
                   kV1)
                   .ok());
}

class ExecPluginTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = kdbg::testing::MakeTempDir("kdbg-exec-"); }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string Script(const std::string& body) {
    std::string path = dir_ + "/plugin.sh";
    std::ofstream(path) << "#!/bin/sh\n" << body;
    chmod(path.c_str(), 0755);
    return path;
  }
  std::string Read(const std::string& name) {
    std::ifstream in(dir_ + "/" + name);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  std::string dir_;
  kdbg::testing::FakeClock clock_{absl::FromUnixSeconds(1700000000)};
};

TEST_F(ExecPluginTest, RunsPluginPassesEnvAndCachesUntilExpiry) {
  // Each run appends to runs.log and prints a token numbered by run, expiring at 1700000600.
  ExecConfig cfg;
  cfg.command = Script(R"(echo run >> "$DIR/runs.log"
n=$(wc -l < "$DIR/runs.log")
printf '%s' "$KUBERNETES_EXEC_INFO" > "$DIR/info.json"
echo "$FOO $1" > "$DIR/args.txt"
cat <<JSON
{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential",
 "status":{"token":"tok-$n","expirationTimestamp":"2023-11-14T22:23:20Z"}}
JSON
)");
  cfg.args = {"get-token"};
  cfg.env = {{"DIR", dir_}, {"FOO", "bar"}};
  cfg.api_version = kV1;
  cfg.provide_cluster_info = true;
  ExecCredentialProvider provider(cfg, "https://127.0.0.1:6443", "CA", &clock_);

  auto first = provider.Get();
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->token, "tok-1");
  EXPECT_EQ(absl::ToUnixSeconds(*first->expiry), 1700000600);
  EXPECT_EQ(Read("args.txt"), "bar get-token\n");
  std::string info = Read("info.json");
  EXPECT_THAT(info, HasSubstr(R"("apiVersion":"client.authentication.k8s.io/v1")"));
  EXPECT_THAT(info, HasSubstr(R"("kind":"ExecCredential")"));
  EXPECT_THAT(info, HasSubstr(R"("server":"https://127.0.0.1:6443")"));
  EXPECT_THAT(info, HasSubstr(R"("interactive":false)"));

  clock_.Advance(absl::Seconds(599));
  EXPECT_EQ(provider.Get()->token, "tok-1");  // still cached
  EXPECT_EQ(provider.runs(), 1);
  clock_.Advance(absl::Seconds(1));  // at expiry: run again
  EXPECT_EQ(provider.Get()->token, "tok-2");
  EXPECT_EQ(provider.runs(), 2);
  provider.Invalidate();
  EXPECT_EQ(provider.Get()->token, "tok-3");
}

TEST_F(ExecPluginTest, NoExpiryCachesForever) {
  ExecConfig cfg;
  cfg.command = Script(R"(echo run >> "$DIR/runs.log"
echo '{"apiVersion":"client.authentication.k8s.io/v1beta1","kind":"ExecCredential","status":{"token":"t"}}'
)");
  cfg.env = {{"DIR", dir_}};
  cfg.api_version = kV1beta1;
  ExecCredentialProvider provider(cfg, "", "", &clock_);
  ASSERT_TRUE(provider.Get().ok());
  clock_.Advance(absl::Hours(48));
  ASSERT_TRUE(provider.Get().ok());
  EXPECT_EQ(Read("runs.log"), "run\n");
}

TEST_F(ExecPluginTest, FailingPluginNamesItStderrAndInstallHint) {
  ExecConfig cfg;
  cfg.command = Script(
      "echo 'noise' >&2\necho 'error: SSO session expired, run aws sso login' >&2\nexit 3\n");
  cfg.api_version = kV1;
  cfg.install_hint = "Install the plugin from https://example.com\n";
  ExecCredentialProvider provider(cfg, "", "", &clock_);
  auto s = provider.Get();
  ASSERT_EQ(s.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(s.status().message(), HasSubstr("exec plugin \"" + cfg.command + "\" failed"));
  EXPECT_THAT(s.status().message(), HasSubstr("exit status 3"));
  EXPECT_THAT(s.status().message(), HasSubstr("SSO session expired"));
  EXPECT_THAT(s.status().message(), HasSubstr("Install the plugin from https://example.com"));
}

TEST_F(ExecPluginTest, MissingPluginShowsInstallHint) {
  ExecConfig cfg;
  cfg.command = "kdbg-no-such-plugin-xyz";
  cfg.api_version = kV1;
  cfg.install_hint = "brew install kdbg-no-such-plugin-xyz";
  ExecCredentialProvider provider(cfg, "", "", &clock_);
  auto s = provider.Get();
  ASSERT_EQ(s.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(s.status().message(), HasSubstr("\"kdbg-no-such-plugin-xyz\" not found"));
  EXPECT_THAT(s.status().message(), HasSubstr("brew install"));
}

TEST_F(ExecPluginTest, GarbageOutputAndWrongVersion) {
  ExecConfig cfg;
  cfg.command = Script("echo hello\n");
  cfg.api_version = kV1;
  ExecCredentialProvider garbage(cfg, "", "", &clock_);
  EXPECT_EQ(garbage.Get().status().code(), absl::StatusCode::kUnauthenticated);

  cfg.command = Script(
      R"(echo '{"apiVersion":"client.authentication.k8s.io/v1beta1","kind":"ExecCredential","status":{"token":"t"}}')"
      "\n");
  ExecCredentialProvider wrong(cfg, "", "", &clock_);
  auto s = wrong.Get();
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.status().message(), HasSubstr("asks for client.authentication.k8s.io/v1"));
}

TEST_F(ExecPluginTest, InteractiveAlwaysIsRefused) {
  ExecConfig cfg;
  cfg.command = Script("exit 0\n");
  cfg.api_version = kV1;
  cfg.interactive_mode = "Always";
  ExecCredentialProvider provider(cfg, "", "", &clock_);
  EXPECT_EQ(provider.Get().status().code(), absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace kdbg::kube
