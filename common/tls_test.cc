// Real TLS handshakes on a loopback port between a tiny Agent server (Version only) and clients
// with the right certificate, another CA's certificate, no certificate, and the wrong identity.
#include "common/tls.h"

#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "kdbg/v1/agent.grpc.pb.h"
#include "tests/support/certs/test_certs.h"

namespace kdbg::tls {
namespace {

using kdbg::testing::CertFiles;
using kdbg::testing::TestPki;

class VersionOnly final : public kdbg::v1::Agent::Service {
 public:
  grpc::Status Version(grpc::ServerContext* ctx, const kdbg::v1::VersionRequest*,
                       kdbg::v1::VersionInfo* out) override {
    ++calls;
    last_peer = PeerIdentityFromAuthContext(*ctx->auth_context());
    out->set_component("kdbg-agent");
    return grpc::Status::OK;
  }
  std::atomic<int> calls{0};
  PeerIdentity last_peer;
};

class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto pki = TestPki::Create("kdbg-test-ca");
    ASSERT_TRUE(pki.ok()) << pki.status();
    pki_ = std::move(*pki);
    auto other = TestPki::Create("other-ca");
    ASSERT_TRUE(other.ok()) << other.status();
    other_ = std::move(*other);
    auto server = pki_->Issue({"kdbg-agent", {"localhost", "agent.node-a"}, {"127.0.0.1"}});
    ASSERT_TRUE(server.ok()) << server.status();
    server_cert_ = *server;
    auto creds = MakeServerCredentials(
        {server_cert_.cert_path, server_cert_.key_path, pki_->ca().cert_path}, {"kdbg-controller"});
    ASSERT_TRUE(creds.ok()) << creds.status();
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", *creds, &port_);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    ASSERT_GT(port_, 0);
  }
  void TearDown() override {
    if (server_) server_->Shutdown();
  }

  grpc::Status CallVersion(const ClientTlsFiles& files, const std::string& server_name = "") {
    auto channel = MakeSecureChannel("127.0.0.1:" + std::to_string(port_), files, server_name);
    if (!channel.ok())
      return grpc::Status(grpc::StatusCode::INTERNAL, std::string(channel.status().message()));
    auto stub = kdbg::v1::Agent::NewStub(*channel);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    kdbg::v1::VersionInfo info;
    return stub->Version(&ctx, kdbg::v1::VersionRequest(), &info);
  }

  std::unique_ptr<TestPki> pki_;
  std::unique_ptr<TestPki> other_;
  CertFiles server_cert_;
  VersionOnly service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

TEST_F(TlsTest, ControllerCertificateIsAdmittedAndIdentified) {
  auto client = pki_->Issue({"kdbg-controller"});
  ASSERT_TRUE(client.ok()) << client.status();
  grpc::Status s = CallVersion({pki_->ca().cert_path, client->cert_path, client->key_path});
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(service_.calls, 1);
  EXPECT_TRUE(service_.last_peer.authenticated);
  EXPECT_EQ(service_.last_peer.common_name, "kdbg-controller");
}

TEST_F(TlsTest, IdentityInASanIsEnough) {
  auto client = pki_->Issue({"some-pod-name", {"kdbg-controller"}, {}});
  ASSERT_TRUE(client.ok()) << client.status();
  grpc::Status s = CallVersion({pki_->ca().cert_path, client->cert_path, client->key_path});
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(service_.calls, 1);
}

TEST_F(TlsTest, NoClientCertificateIsRefusedBeforeTheHandler) {
  grpc::Status s = CallVersion({pki_->ca().cert_path, "", ""});
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
  EXPECT_EQ(service_.calls, 0);
}

TEST_F(TlsTest, OtherCaCertificateIsRefusedBeforeTheHandler) {
  auto client = other_->Issue({"kdbg-controller"});
  ASSERT_TRUE(client.ok()) << client.status();
  grpc::Status s = CallVersion({pki_->ca().cert_path, client->cert_path, client->key_path});
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
  EXPECT_EQ(service_.calls, 0);
}

TEST_F(TlsTest, WrongIdentityIsPermissionDeniedBeforeTheHandler) {
  auto client = pki_->Issue({"kdbg-cli-user", {"not-the-controller"}, {}});
  ASSERT_TRUE(client.ok()) << client.status();
  grpc::Status s = CallVersion({pki_->ca().cert_path, client->cert_path, client->key_path});
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << s.error_message();
  EXPECT_NE(s.error_message().find("CN=kdbg-cli-user"), std::string::npos) << s.error_message();
  EXPECT_EQ(service_.calls, 0);
}

TEST_F(TlsTest, ServerNameOverrideChecksTheServerCertificate) {
  auto client = pki_->Issue({"kdbg-controller"});
  ASSERT_TRUE(client.ok()) << client.status();
  ClientTlsFiles files{pki_->ca().cert_path, client->cert_path, client->key_path};
  EXPECT_TRUE(CallVersion(files, "agent.node-a").ok());
  EXPECT_EQ(CallVersion(files, "agent.node-b").error_code(), grpc::StatusCode::UNAVAILABLE);
  // A client that trusts only another CA refuses the server.
  ClientTlsFiles wrong_root{other_->ca().cert_path, client->cert_path, client->key_path};
  EXPECT_EQ(CallVersion(wrong_root).error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST(TlsFilesTest, LoadErrorsNameTheFile) {
  auto missing = ReadPemFile("/nonexistent/tls.crt", "--tls-cert");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("/nonexistent/tls.crt"), absl::string_view::npos);
  auto not_pem = ReadPemFile("/proc/self/status", "--tls-key");
  ASSERT_FALSE(not_pem.ok());
  EXPECT_EQ(not_pem.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(MakeClientCredentials({"", "/a.crt", ""}).ok());
}

}  // namespace
}  // namespace kdbg::tls
