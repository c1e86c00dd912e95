#include "controller/auth.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kube/testing/fake_client.h"

namespace kdbg::controller {
namespace {

using ::testing::HasSubstr;

TEST(AuthTest, ParseBearer) {
  EXPECT_EQ(*ParseBearer("Bearer abc"), "abc");
  EXPECT_EQ(*ParseBearer("bearer  abc "), "abc");
  EXPECT_TRUE(absl::IsUnauthenticated(ParseBearer("").status()));
  EXPECT_TRUE(absl::IsUnauthenticated(ParseBearer("Basic dXNlcg==").status()));
  EXPECT_TRUE(absl::IsUnauthenticated(ParseBearer("Bearer ").status()));
}

class AuthorizerTest : public ::testing::Test {
 protected:
  AuthorizerTest() {
    kube::UserInfo alice;
    alice.authenticated = true;
    alice.username = "alice";
    alice.groups = {"sre"};
    kube_.AddToken("t-alice", alice);
    kube::AccessRule rule;
    rule.name = "debuggers";
    rule.users = {"alice"};
    rule.verbs = {"create"};
    rule.api_groups = {"kdbg.io"};
    rule.resources = {"debugsessions"};
    rule.namespaces = {"default"};
    kube_.AddRule(rule);
  }
  kube::testing::FakeClient kube_;
  Authorizer auth_{&kube_};
};

TEST_F(AuthorizerTest, AcceptsKnownTokenAndAsksRbac) {
  auto user = auth_.Authenticate("Bearer t-alice");
  ASSERT_TRUE(user.ok()) << user.status();
  EXPECT_EQ(user->username, "alice");
  EXPECT_TRUE(auth_.Authorize(*user, "create", "default", "hello-world").ok());
  auto reviews = kube_.access_reviews();
  ASSERT_EQ(reviews.size(), 1u);
  EXPECT_EQ(reviews[0].second.group, "kdbg.io");
  EXPECT_EQ(reviews[0].second.resource, "debugsessions");
  EXPECT_EQ(reviews[0].second.name, "hello-world");
  absl::Status denied = auth_.Authorize(*user, "create", "payments", "api");
  EXPECT_TRUE(absl::IsPermissionDenied(denied));
  EXPECT_THAT(denied.message(), HasSubstr("alice"));
  EXPECT_THAT(denied.message(), HasSubstr("payments"));
}

TEST_F(AuthorizerTest, RejectedTokenIsUnauthenticated) {
  auto user = auth_.Authenticate("Bearer forged");
  EXPECT_TRUE(absl::IsUnauthenticated(user.status())) << user.status();
  EXPECT_TRUE(kube_.access_reviews().empty());
}

TEST_F(AuthorizerTest, ApiServerDownIsUnavailable) {
  kube_.InjectError(kube::testing::FakeClient::Method::kReviewToken,
                    absl::UnavailableError("connection refused"));
  auto user = auth_.Authenticate("Bearer t-alice");
  EXPECT_TRUE(absl::IsUnavailable(user.status()));
  EXPECT_THAT(user.status().message(), HasSubstr("connection refused"));
}

}  // namespace
}  // namespace kdbg::controller
