#include "kube/names.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kdbg::kube {
namespace {

using ::testing::HasSubstr;

TEST(NamesTest, Dns1123LabelsAndSubdomains) {
  for (const char* ok : {"a", "web", "kube-system", "x1", "0abc"}) {
    EXPECT_TRUE(IsDns1123Label(ok)) << ok;
    EXPECT_TRUE(IsDns1123Subdomain(ok)) << ok;
  }
  EXPECT_TRUE(IsDns1123Subdomain("etcd-node.example"));
  EXPECT_FALSE(IsDns1123Label("etcd-node.example"));
  for (const char* bad :
       {"", "..", "../secrets", "a/b", "-a", "a-", "A", "a b", "a\nb", ".a", "pods/..", "%2e%2e"}) {
    EXPECT_FALSE(IsDns1123Label(bad)) << bad;
    EXPECT_FALSE(IsDns1123Subdomain(bad)) << bad;
  }
  EXPECT_TRUE(IsDns1123Label(std::string(63, 'a')));
  EXPECT_FALSE(IsDns1123Label(std::string(64, 'a')));
  EXPECT_TRUE(IsDns1123Subdomain(std::string(253, 'a')));
  EXPECT_FALSE(IsDns1123Subdomain(std::string(254, 'a')));
}

TEST(NamesTest, ValidateNamesTheFieldAndQuotesABoundedPrefix) {
  EXPECT_TRUE(ValidateObjectName("pod", "web-7d4b9c8f6-x2x9q").ok());
  EXPECT_TRUE(ValidateObjectName("container", "").ok());
  EXPECT_FALSE(ValidateObjectName("pod", "").ok());
  absl::Status s = ValidateObjectName("namespace", "../kube-system");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(),
              HasSubstr("namespace \"../kube-system\" is not a valid Kubernetes name"));
  s = ValidateObjectName("pod", std::string(1 << 20, 'x') + "\n");
  EXPECT_LT(s.message().size(), 300u);
  EXPECT_THAT(s.message(), HasSubstr("xxx...\" is not a valid"));
  EXPECT_THAT(ValidateObjectName("container", "a\x01").message(), HasSubstr("a\\x01"));
}

}  // namespace
}  // namespace kdbg::kube
