#include "kube/testing/access_rules.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace kdbg::kube {
namespace {

bool Has(const std::vector<std::string>& list, const std::string& v) {
  return std::find(list.begin(), list.end(), v) != list.end() ||
         std::find(list.begin(), list.end(), "*") != list.end();
}

// Returns the subject description ("User \"alice\"", "Group \"sre\"") when `rule` names the user.
std::string Subject(const AccessRule& rule, const UserInfo& user) {
  if (std::find(rule.users.begin(), rule.users.end(), user.username) != rule.users.end()) {
    return absl::StrCat("User \"", user.username, "\"");
  }
  for (const std::string& g : user.groups) {
    if (std::find(rule.groups.begin(), rule.groups.end(), g) != rule.groups.end()) {
      return absl::StrCat("Group \"", g, "\"");
    }
  }
  if (std::find(rule.users.begin(), rule.users.end(), "*") != rule.users.end() &&
      !user.username.empty()) {
    return absl::StrCat("User \"", user.username, "\"");
  }
  return "";
}

bool Covers(const AccessRule& rule, const ResourceAttributes& a) {
  std::string resource = a.subresource.empty() ? a.resource : a.resource + "/" + a.subresource;
  if (!Has(rule.verbs, a.verb) || !Has(rule.api_groups, a.group) ||
      !Has(rule.resources, resource)) {
    return false;
  }
  if (!rule.namespaces.empty() && !Has(rule.namespaces, a.namespace_)) return false;
  if (!rule.resource_names.empty() && !Has(rule.resource_names, a.name)) return false;
  return true;
}

}  // namespace

AccessDecision AccessRules::Decide(const UserInfo& user, const ResourceAttributes& attrs) const {
  AccessDecision d;
  for (const AccessRule& r : rules_) {
    if (!r.deny || !Covers(r, attrs) || Subject(r, user).empty()) continue;
    d.denied = true;
    d.reason = r.deny_reason;
    return d;
  }
  for (const AccessRule& r : rules_) {
    if (r.deny || !Covers(r, attrs)) continue;
    std::string subject = Subject(r, user);
    if (subject.empty()) continue;
    d.allowed = true;
    if (!r.binding.empty()) {
      d.reason = absl::StrCat("RBAC: allowed by ", r.binding, " to ", subject);
    } else if (r.namespaces.empty() || Has(r.namespaces, "*")) {
      d.reason = absl::StrCat("RBAC: allowed by ClusterRoleBinding \"", r.name,
                              "\" of ClusterRole \"", r.name, "\" to ", subject);
    } else {
      d.reason = absl::StrCat("RBAC: allowed by RoleBinding \"", r.name, "/", attrs.namespace_,
                              "\" of Role \"", r.name, "\" to ", subject);
    }
    return d;
  }
  return d;
}

std::string ForbiddenMessage(const UserInfo& user, const ResourceAttributes& a,
                             const std::string& reason) {
  std::string resource = a.resource;
  if (!a.group.empty()) resource = absl::StrCat(a.resource, ".", a.group);
  std::string msg = a.name.empty() ? absl::StrCat(resource, " is forbidden: ")
                                   : absl::StrCat(resource, " \"", a.name, "\" is forbidden: ");
  std::string full = a.subresource.empty() ? a.resource : a.resource + "/" + a.subresource;
  absl::StrAppend(&msg, "User \"", user.username, "\" cannot ", a.verb, " resource \"", full, "\"");
  absl::StrAppend(&msg, " in API group \"", a.group, "\"");
  if (a.namespace_.empty()) {
    absl::StrAppend(&msg, " at the cluster scope");
  } else {
    absl::StrAppend(&msg, " in the namespace \"", a.namespace_, "\"");
  }
  if (!reason.empty()) absl::StrAppend(&msg, ": ", reason);
  return msg;
}

}  // namespace kdbg::kube
