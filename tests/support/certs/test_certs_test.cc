#include "tests/support/certs/test_certs.h"

#include <filesystem>
#include <string>

#include "common/child_process.h"
#include "gtest/gtest.h"

namespace kdbg::testing {
namespace {

std::string Text(const std::string& cert_path) {
  auto out = RunCommand({"openssl", "x509", "-in", cert_path, "-noout", "-text"});
  return out.ok() ? *out : out.status().ToString();
}

TEST(TestPkiTest, IssuesCertificatesThatVerifyAgainstTheirCaOnly) {
  auto pki = TestPki::Create("ca-one");
  ASSERT_TRUE(pki.ok()) << pki.status();
  auto other = TestPki::Create("ca-two");
  ASSERT_TRUE(other.ok()) << other.status();

  auto server = (*pki)->Issue({"kdbg-agent", {"localhost", "node-a"}, {"127.0.0.1", "127.0.0.2"}});
  ASSERT_TRUE(server.ok()) << server.status();
  EXPECT_NE(server->cert_pem.find("BEGIN CERTIFICATE"), std::string::npos);
  EXPECT_NE(server->key_pem.find("PRIVATE KEY"), std::string::npos);

  std::string text = Text(server->cert_path);
  EXPECT_NE(text.find("Subject: CN = kdbg-agent"), std::string::npos) << text;
  EXPECT_NE(text.find("Issuer: CN = ca-one"), std::string::npos) << text;
  EXPECT_NE(text.find("DNS:localhost, DNS:node-a, IP Address:127.0.0.1, IP Address:127.0.0.2"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("TLS Web Server Authentication, TLS Web Client Authentication"),
            std::string::npos)
      << text;

  EXPECT_TRUE(
      RunCommand({"openssl", "verify", "-CAfile", (*pki)->ca().cert_path, server->cert_path}).ok());
  EXPECT_FALSE(
      RunCommand({"openssl", "verify", "-CAfile", (*other)->ca().cert_path, server->cert_path})
          .ok());
}

TEST(TestPkiTest, CertificateWithoutSansHasOnlyACommonName) {
  auto pki = TestPki::Create();
  ASSERT_TRUE(pki.ok()) << pki.status();
  auto client = (*pki)->Issue({"kdbg-controller"});
  ASSERT_TRUE(client.ok()) << client.status();
  std::string text = Text(client->cert_path);
  EXPECT_NE(text.find("Subject: CN = kdbg-controller"), std::string::npos) << text;
  EXPECT_EQ(text.find("Subject Alternative Name"), std::string::npos) << text;
  EXPECT_FALSE((*pki)->Issue(CertSpec()).ok());
}

TEST(TestPkiTest, DestructorRemovesTheDirectory) {
  std::string dir;
  {
    auto pki = TestPki::Create();
    ASSERT_TRUE(pki.ok()) << pki.status();
    dir = (*pki)->dir();
    ASSERT_TRUE(std::filesystem::exists(dir + "/ca.crt"));
  }
  EXPECT_FALSE(std::filesystem::exists(dir));
}

}  // namespace
}  // namespace kdbg::testing
