#include "kube/testing/access_rules.h"

#include "gtest/gtest.h"

namespace kdbg::kube {
namespace {

UserInfo User(std::string name, std::vector<std::string> groups = {}) {
  UserInfo u;
  u.authenticated = true;
  u.username = std::move(name);
  u.groups = std::move(groups);
  return u;
}

ResourceAttributes Attrs(std::string ns, std::string verb, std::string group, std::string resource,
                         std::string name = "") {
  ResourceAttributes a;
  a.namespace_ = std::move(ns);
  a.verb = std::move(verb);
  a.group = std::move(group);
  a.resource = std::move(resource);
  a.name = std::move(name);
  return a;
}

AccessRules Rules() {
  AccessRules rules;
  rules.Add({.name = "debuggers",
             .users = {"alice"},
             .verbs = {"create"},
             .api_groups = {"kdbg.io"},
             .resources = {"debugsessions"},
             .namespaces = {"default"}});
  rules.Add({.name = "pod-readers",
             .groups = {"sre"},
             .verbs = {"get", "list", "watch"},
             .api_groups = {""},
             .resources = {"pods"}});
  rules.Add({.name = "no-prod",
             .groups = {"contractors"},
             .verbs = {"*"},
             .api_groups = {"*"},
             .resources = {"*"},
             .namespaces = {"prod"},
             .deny = true,
             .deny_reason = "contractors may not touch prod"});
  return rules;
}

TEST(AccessRulesTest, AllowedByRoleBindingWithRbacReason) {
  auto d =
      Rules().Decide(User("alice"), Attrs("default", "create", "kdbg.io", "debugsessions", "p"));
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(
      d.reason,
      "RBAC: allowed by RoleBinding \"debuggers/default\" of Role \"debuggers\" to User \"alice\"");
}

TEST(AccessRulesTest, AllowedByClusterRoleBindingToGroup) {
  auto d = Rules().Decide(User("bob", {"sre"}), Attrs("kube-system", "get", "", "pods", "x"));
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(d.reason,
            "RBAC: allowed by ClusterRoleBinding \"pod-readers\" of ClusterRole "
            "\"pod-readers\" to Group \"sre\"");
}

TEST(AccessRulesTest, NoMatchingRuleIsNoOpinion) {
  auto rules = Rules();
  auto d = rules.Decide(User("alice"), Attrs("other", "create", "kdbg.io", "debugsessions"));
  EXPECT_FALSE(d.allowed);
  EXPECT_FALSE(d.denied);
  EXPECT_EQ(d.reason, "");
  EXPECT_FALSE(rules.Decide(User("bob", {"sre"}), Attrs("a", "delete", "", "pods")).allowed);
  EXPECT_FALSE(rules.Decide(User("bob", {"sre"}), Attrs("a", "get", "", "secrets")).allowed);
}

TEST(AccessRulesTest, DenyRuleWins) {
  auto rules = Rules();
  rules.Add({.name = "all",
             .groups = {"contractors"},
             .verbs = {"*"},
             .api_groups = {"*"},
             .resources = {"*"}});
  auto d = rules.Decide(User("carl", {"contractors"}), Attrs("prod", "get", "", "pods"));
  EXPECT_FALSE(d.allowed);
  EXPECT_TRUE(d.denied);
  EXPECT_EQ(d.reason, "contractors may not touch prod");
  EXPECT_TRUE(rules.Decide(User("carl", {"contractors"}), Attrs("dev", "get", "", "pods")).allowed);
}

TEST(ForbiddenMessageTest, MatchesApiServerWording) {
  EXPECT_EQ(ForbiddenMessage(User("u"), Attrs("ns", "get", "", "pods", "x"), ""),
            "pods \"x\" is forbidden: User \"u\" cannot get resource \"pods\" in API group \"\" in "
            "the namespace \"ns\"");
  EXPECT_EQ(ForbiddenMessage(User("u"), Attrs("", "list", "", "pods"), ""),
            "pods is forbidden: User \"u\" cannot list resource \"pods\" in API group \"\" at the "
            "cluster scope");
  EXPECT_EQ(
      ForbiddenMessage(User("u"), Attrs("ns", "create", "kdbg.io", "debugsessions"), "why"),
      "debugsessions.kdbg.io is forbidden: User \"u\" cannot create resource \"debugsessions\" "
      "in API group \"kdbg.io\" in the namespace \"ns\": why");
}

}  // namespace
}  // namespace kdbg::kube
