#include "controller/auth.h"

#include "common/testing/fake_clock.h"
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
  kdbg::testing::FakeClock clock_;
  Authorizer auth_{&kube_, &clock_};
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

TEST_F(AuthorizerTest, AcceptedTokenIsReusedForTheTtlThenAskedAgain) {
  ASSERT_TRUE(auth_.Authenticate("Bearer t-alice").ok());
  clock_.Advance(absl::Seconds(9));
  auto again = auth_.Authenticate("Bearer t-alice");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->username, "alice");
  EXPECT_EQ(again->groups, std::vector<std::string>{"sre"});
  EXPECT_EQ(kube_.calls(kube::testing::FakeClient::Method::kReviewToken), 1);
  clock_.Advance(absl::Seconds(1));  // 10 s: expired
  ASSERT_TRUE(auth_.Authenticate("Bearer t-alice").ok());
  EXPECT_EQ(kube_.calls(kube::testing::FakeClient::Method::kReviewToken), 2);
}

// The cache's TTL is time served: setting the wall clock back does not keep a token (or a right
// since revoked) cached past it.
TEST_F(AuthorizerTest, TheWallClockSetBackDoesNotStretchTheTtl) {
  ASSERT_TRUE(auth_.Authenticate("Bearer t-alice").ok());
  clock_.StepWall(-absl::Hours(1));
  clock_.Advance(absl::Seconds(10));
  ASSERT_TRUE(auth_.Authenticate("Bearer t-alice").ok());
  EXPECT_EQ(kube_.calls(kube::testing::FakeClient::Method::kReviewToken), 2);
}

TEST_F(AuthorizerTest, RejectedTokensAndFailedReviewsAreNeverCached) {
  kube_.AddRejectedToken("t-old", "token has expired");
  EXPECT_TRUE(absl::IsUnauthenticated(auth_.Authenticate("Bearer t-old").status()));
  EXPECT_TRUE(absl::IsUnauthenticated(auth_.Authenticate("Bearer t-old").status()));
  EXPECT_EQ(kube_.calls(kube::testing::FakeClient::Method::kReviewToken), 2);
  kube_.InjectError(kube::testing::FakeClient::Method::kReviewToken,
                    absl::UnavailableError("connection refused"));
  EXPECT_TRUE(absl::IsUnavailable(auth_.Authenticate("Bearer t-alice").status()));
  ASSERT_TRUE(auth_.Authenticate("Bearer t-alice").ok());  // asked again, not the failure
  EXPECT_EQ(kube_.calls(kube::testing::FakeClient::Method::kReviewToken), 4);
}

TEST_F(AuthorizerTest, AllowedDecisionIsReusedOnlyForTheSameQuestion) {
  auto user = auth_.Authenticate("Bearer t-alice");
  ASSERT_TRUE(user.ok());
  ASSERT_TRUE(auth_.Authorize(*user, "create", "default", "hello-world").ok());
  ASSERT_TRUE(auth_.Authorize(*user, "create", "default", "hello-world").ok());
  EXPECT_EQ(kube_.access_reviews().size(), 1u);
  // Another pod, verb or group set is another question.
  ASSERT_TRUE(auth_.Authorize(*user, "create", "default", "other").ok());
  EXPECT_FALSE(auth_.Authorize(*user, "delete", "default", "hello-world").ok());
  kube::UserInfo more = *user;
  more.groups.push_back("system:masters");
  ASSERT_TRUE(auth_.Authorize(more, "create", "default", "hello-world").ok());
  EXPECT_EQ(kube_.access_reviews().size(), 4u);
  clock_.Advance(absl::Seconds(10));
  ASSERT_TRUE(auth_.Authorize(*user, "create", "default", "hello-world").ok());
  EXPECT_EQ(kube_.access_reviews().size(), 5u);
}

TEST_F(AuthorizerTest, DenialIsAskedAgainSoARightJustGrantedWorksAtOnce) {
  auto user = auth_.Authenticate("Bearer t-alice");
  ASSERT_TRUE(user.ok());
  EXPECT_TRUE(absl::IsPermissionDenied(auth_.Authorize(*user, "create", "payments", "api")));
  kube::AccessRule rule;
  rule.name = "payments-debuggers";
  rule.users = {"alice"};
  rule.verbs = {"create"};
  rule.api_groups = {"kdbg.io"};
  rule.resources = {"debugsessions"};
  rule.namespaces = {"payments"};
  kube_.AddRule(rule);
  EXPECT_TRUE(auth_.Authorize(*user, "create", "payments", "api").ok());
  EXPECT_EQ(kube_.access_reviews().size(), 2u);
}

TEST_F(AuthorizerTest, ASubresourceIsItsOwnQuestion) {
  auto user = auth_.Authenticate("Bearer t-alice");
  ASSERT_TRUE(user.ok());
  ASSERT_TRUE(auth_.Authorize(*user, "create", "default", "hello-world").ok());
  // `debugsessions` does not grant `debugsessions/attach` (RBAC matches subresources exactly),
  // and the cached answer for the resource is not reused for it.
  absl::Status s = auth_.Authorize(*user, "create", "default", "hello-world", kAttachSubresource);
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(s.message(), HasSubstr("user \"alice\" may not create debugsessions.kdbg.io/attach "
                                     "\"hello-world\" in namespace \"default\""));
  auto reviews = kube_.access_reviews();
  ASSERT_EQ(reviews.size(), 2u);
  EXPECT_EQ(reviews[0].second.subresource, "");
  EXPECT_EQ(reviews[1].second.resource, "debugsessions");
  EXPECT_EQ(reviews[1].second.subresource, "attach");
  kube_.AddRule({.name = "attachers",
                 .users = {"alice"},
                 .verbs = {"create"},
                 .api_groups = {"kdbg.io"},
                 .resources = {"debugsessions/attach"},
                 .namespaces = {"default"}});
  EXPECT_TRUE(auth_.Authorize(*user, "create", "default", "hello-world", kAttachSubresource).ok());
  EXPECT_TRUE(auth_.Authorize(*user, "create", "default", "hello-world", kAttachSubresource).ok());
  EXPECT_EQ(kube_.access_reviews().size(), 3u);
}

TEST(AuthorizerCacheTest, ZeroTtlAsksEveryTimeAndTheCacheIsBounded) {
  kube::testing::FakeClient kube;
  kube::UserInfo bob;
  bob.authenticated = true;
  bob.username = "bob";
  for (int i = 0; i < 5; ++i) kube.AddToken(absl::StrCat("t", i), bob);
  kdbg::testing::FakeClock clock;
  Authorizer uncached(&kube, &clock, AuthCacheOptions{absl::ZeroDuration(), 16});
  ASSERT_TRUE(uncached.Authenticate("Bearer t0").ok());
  ASSERT_TRUE(uncached.Authenticate("Bearer t0").ok());
  EXPECT_EQ(kube.calls(kube::testing::FakeClient::Method::kReviewToken), 2);

  Authorizer small(&kube, &clock, AuthCacheOptions{absl::Seconds(10), 2});
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(small.Authenticate(absl::StrCat("Bearer t", i)).ok());
  EXPECT_EQ(kube.calls(kube::testing::FakeClient::Method::kReviewToken), 7);
  // t4 was stored last, after the full cache was emptied: still cached.
  ASSERT_TRUE(small.Authenticate("Bearer t4").ok());
  EXPECT_EQ(kube.calls(kube::testing::FakeClient::Method::kReviewToken), 7);
}

}  // namespace
}  // namespace kdbg::controller
