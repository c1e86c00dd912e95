// A small RBAC-like rule set: who may do which verbs on which resources, in which namespaces.
// Used by the in-memory fake client and the API stub to answer SubjectAccessReviews and to
// authorize requests, with reasons worded like the real RBAC authorizer's:
//   allowed: `RBAC: allowed by ClusterRoleBinding "debuggers" of ClusterRole "debuggers" to User
//   "alice"`
//            `RBAC: allowed by RoleBinding "debuggers/default" of Role "debuggers" to Group "sre"`
//   no rule matched: allowed=false, denied=false, reason "" (RBAC has "no opinion"; the real
//            authorizer gives no reason either)
//   an explicit deny rule: allowed=false, denied=true, reason = the rule's reason (as a webhook
//            authorizer would answer)
// Thread-compatible (const methods are safe to call concurrently).
#pragma once

#include <string>
#include <vector>

#include "kube/objects.h"

namespace kdbg::kube {

struct AccessRule {
  std::string name = {};  // binding/role name shown in reasons
  // When set, the whole binding description used in the allow reason instead of one derived from
  // `name`, e.g. `RoleBinding "kdbg-users" of ClusterRole "kdbg-user"`.
  std::string binding = {};
  std::vector<std::string> users = {};           // usernames; "*" any authenticated user
  std::vector<std::string> groups = {};          // group names
  std::vector<std::string> verbs = {};           // "get", "list", "watch", "create", ...; "*" all
  std::vector<std::string> api_groups = {};      // "" core, "kdbg.io"; "*" all
  std::vector<std::string> resources = {};       // "pods", "pods/log", "debugsessions"; "*" all
  std::vector<std::string> namespaces = {};      // empty or "*": every namespace (cluster-wide)
  std::vector<std::string> resource_names = {};  // empty: any name
  bool deny = false;
  std::string deny_reason = {};
};

class AccessRules {
 public:
  AccessRules() = default;
  explicit AccessRules(std::vector<AccessRule> rules) : rules_(std::move(rules)) {}
  void Add(AccessRule rule) { rules_.push_back(std::move(rule)); }
  // Deny rules are checked first (like a deny webhook placed before RBAC), then allow rules in
  // order; the first match decides.
  AccessDecision Decide(const UserInfo& user, const ResourceAttributes& attrs) const;
  const std::vector<AccessRule>& rules() const { return rules_; }

 private:
  std::vector<AccessRule> rules_ = {};
};

// The API server's 403 message for a request the user may not make:
//   pods "x" is forbidden: User "u" cannot get resource "pods" in API group "" in the namespace
//   "ns" pods is forbidden: User "u" cannot list resource "pods" in API group "" at the cluster
//   scope
// `reason` (when non-empty) is appended after ": ", as the API server does.
std::string ForbiddenMessage(const UserInfo& user, const ResourceAttributes& attrs,
                             const std::string& reason);

}  // namespace kdbg::kube
