#include "kube/testing/selector.h"

#include "gtest/gtest.h"

namespace kdbg::kube {
namespace {

std::map<std::string, std::string> L(
    std::initializer_list<std::pair<const std::string, std::string>> l) {
  return l;
}

bool Sel(const std::string& s, const std::map<std::string, std::string>& labels) {
  auto sel = LabelSelector::Parse(s);
  EXPECT_TRUE(sel.ok()) << s << ": " << sel.status();
  return sel.ok() && sel->Matches(labels);
}

TEST(LabelSelectorTest, EqualityForms) {
  auto labels = L({{"app", "kdbg-agent"}, {"tier", "node"}});
  EXPECT_TRUE(Sel("", labels));
  EXPECT_TRUE(Sel("app=kdbg-agent", labels));
  EXPECT_TRUE(Sel("app==kdbg-agent", labels));
  EXPECT_TRUE(Sel("app = kdbg-agent , tier=node", labels));
  EXPECT_FALSE(Sel("app=kdbg-agent,tier=web", labels));
  EXPECT_FALSE(Sel("app!=kdbg-agent", labels));
  EXPECT_TRUE(Sel("missing!=x", labels));
}

TEST(LabelSelectorTest, SetBasedAndExistence) {
  auto labels = L({{"env", "prod"}, {"app", "web"}});
  EXPECT_TRUE(Sel("env in (prod, staging)", labels));
  EXPECT_TRUE(Sel("env in (prod,staging),app=web", labels));
  EXPECT_FALSE(Sel("env in (dev)", labels));
  EXPECT_TRUE(Sel("env notin (dev,qa)", labels));
  EXPECT_FALSE(Sel("env notin (prod)", labels));
  EXPECT_TRUE(Sel("missing notin (prod)", labels));
  EXPECT_TRUE(Sel("app", labels));
  EXPECT_FALSE(Sel("!app", labels));
  EXPECT_TRUE(Sel("!missing", labels));
}

TEST(LabelSelectorTest, Malformed) {
  EXPECT_FALSE(LabelSelector::Parse("env in prod").ok());
  EXPECT_FALSE(LabelSelector::Parse("=x").ok());
  EXPECT_FALSE(LabelSelector::Parse("a=b,,c=d").ok());
}

TEST(PodFieldSelectorTest, SupportedFields) {
  Pod pod;
  pod.name = "hello";
  pod.namespace_ = "default";
  pod.node_name = "node-a";
  pod.phase = "Running";
  auto m = [&](const std::string& s) {
    auto sel = PodFieldSelector::Parse(s);
    EXPECT_TRUE(sel.ok()) << sel.status();
    return sel.ok() && sel->Matches(pod);
  };
  EXPECT_TRUE(m("spec.nodeName=node-a"));
  EXPECT_FALSE(m("spec.nodeName=node-b"));
  EXPECT_TRUE(m("spec.nodeName!=node-b,status.phase=Running"));
  EXPECT_TRUE(m("metadata.name==hello,metadata.namespace=default"));
  EXPECT_FALSE(m("status.phase!=Running"));
}

TEST(PodFieldSelectorTest, UnsupportedFieldHasApiServerWording) {
  auto sel = PodFieldSelector::Parse("metadata.nam=x");
  ASSERT_EQ(sel.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(sel.status().message(), "field label not supported: metadata.nam");
}

}  // namespace
}  // namespace kdbg::kube
