#include "kube/testing/selector.h"  // PodFieldSelector; LabelSelector is kube/selector.h

#include "gmock/gmock.h"
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

namespace kdbg::kube {
namespace {

TEST(LabelSelectorTest, KubectlGrammarCornerCases) {
  // Blanks anywhere between tokens, `in(` without a blank, empty values.
  auto s = LabelSelector::Parse("  tier in(web ,api) ,  !canary,app.kubernetes.io/name=web,x=");
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_EQ(s->requirements().size(), 4u);
  EXPECT_EQ(s->requirements()[0].op, LabelRequirement::Op::kIn);
  EXPECT_EQ(s->requirements()[0].values, (std::vector<std::string>{"web", "api"}));
  EXPECT_EQ(s->requirements()[1].op, LabelRequirement::Op::kDoesNotExist);
  EXPECT_EQ(s->requirements()[2].key, "app.kubernetes.io/name");
  EXPECT_EQ(s->requirements()[3].values, (std::vector<std::string>{""}));
  EXPECT_EQ(s->ToString(), "tier in (web,api),!canary,app.kubernetes.io/name=web,x=");
  EXPECT_TRUE(s->Matches({{"tier", "api"}, {"app.kubernetes.io/name", "web"}, {"x", ""}}));
  EXPECT_FALSE(s->Matches({{"tier", "api"}, {"app.kubernetes.io/name", "web"}, {"x", "1"}}));
  // ToString round-trips.
  auto again = LabelSelector::Parse(s->ToString());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->ToString(), s->ToString());
}

TEST(LabelSelectorTest, ErrorsNameTheRequirementAndWhatIsWrong) {
  auto e = [](const std::string& text) {
    auto s = LabelSelector::Parse(text);
    EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument) << text;
    return std::string(s.status().message());
  };
  EXPECT_EQ(e("app=web,tier in prod"),
            "unable to parse requirement \"tier in prod\": expected '(' after in");
  EXPECT_THAT(e("app=web,x>3"), ::testing::HasSubstr("numeric operators"));
  EXPECT_THAT(e("app=we b"), ::testing::HasSubstr("expected ',' between requirements"));
  EXPECT_THAT(e("-app=web"), ::testing::HasSubstr("is not a label name"));
  EXPECT_THAT(e("app=web,!"), ::testing::HasSubstr("expected a key after '!'"));
  EXPECT_THAT(e("Example.com/app=web"), ::testing::HasSubstr("DNS subdomain"));
  EXPECT_THAT(e("app=" + std::string(64, 'a')), ::testing::HasSubstr("is not a label value"));
  EXPECT_THAT(e("tier in ()"), ::testing::HasSubstr("needs at least one value"));
  EXPECT_THAT(e("app in (a"), ::testing::HasSubstr("expected ',' or ')'"));
}

TEST(LabelSelectorTest, FromJsonMatchLabelsAndExpressions) {
  auto s = LabelSelector::FromJson(R"({"matchLabels":{"tier":"backend"},
      "matchExpressions":[{"key":"app.kubernetes.io/name","operator":"In","values":["ledger"]},
                          {"key":"canary","operator":"DoesNotExist"},
                          {"key":"zone","operator":"NotIn","values":["a","b"]},
                          {"key":"team","operator":"Exists"}]})");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->ToString(),
            "tier=backend,app.kubernetes.io/name in (ledger),!canary,zone notin (a,b),team");
  EXPECT_TRUE(
      s->Matches({{"tier", "backend"}, {"app.kubernetes.io/name", "ledger"}, {"team", "x"}}));
  EXPECT_FALSE(s->Matches(
      {{"tier", "backend"}, {"app.kubernetes.io/name", "ledger"}, {"team", "x"}, {"canary", "1"}}));
  EXPECT_FALSE(
      LabelSelector::FromJson(R"({"matchExpressions":[{"key":"a","operator":"Gt"}]})").ok());
  EXPECT_FALSE(
      LabelSelector::FromJson(R"({"matchExpressions":[{"key":"a","operator":"In"}]})").ok());
  EXPECT_FALSE(LabelSelector::FromJson(
                   R"({"matchExpressions":[{"key":"a","operator":"Exists","values":["x"]}]})")
                   .ok());
  EXPECT_FALSE(LabelSelector::FromJson(R"({"matchLabels":{"a":1}})").ok());
  EXPECT_FALSE(LabelSelector::FromJson("[1]").ok());
  EXPECT_TRUE(LabelSelector::FromJson("{}")->Empty());
}

}  // namespace
}  // namespace kdbg::kube
