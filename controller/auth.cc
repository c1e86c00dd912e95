#include "controller/auth.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status.h"

namespace kdbg::controller {

absl::StatusOr<std::string> ParseBearer(absl::string_view header) {
  header = absl::StripAsciiWhitespace(header);
  if (header.empty()) {
    return absl::UnauthenticatedError(
        "no bearer token: send \"authorization: Bearer <token>\" (kdbg uses your kubeconfig's "
        "credentials)");
  }
  constexpr absl::string_view kScheme = "bearer ";
  if (header.size() <= kScheme.size() || !absl::StartsWithIgnoreCase(header, kScheme)) {
    return absl::UnauthenticatedError(
        "the authorization metadata is not of the form \"Bearer <token>\"");
  }
  std::string token(absl::StripAsciiWhitespace(header.substr(kScheme.size())));
  if (token.empty()) return absl::UnauthenticatedError("empty bearer token");
  return token;
}

absl::StatusOr<kube::UserInfo> Authorizer::Authenticate(absl::string_view authorization_header) {
  KDBG_ASSIGN_OR_RETURN(std::string token, ParseBearer(authorization_header));
  absl::StatusOr<kube::UserInfo> user = kube_->ReviewToken(token);
  if (!user.ok()) {
    return absl::UnavailableError(
        absl::StrCat("cannot authenticate: the TokenReview failed (", user.status().message(),
                     "); check that the controller reaches the Kubernetes API server"));
  }
  if (!user->authenticated) {
    return absl::UnauthenticatedError(
        absl::StrCat("the Kubernetes API server rejected the token",
                     user->error.empty() ? "" : absl::StrCat(": ", user->error),
                     "; refresh your kubeconfig credentials"));
  }
  return user;
}

absl::Status Authorizer::Authorize(const kube::UserInfo& user, const std::string& verb,
                                   const std::string& ns, const std::string& name) {
  kube::ResourceAttributes attrs;
  attrs.namespace_ = ns;
  attrs.verb = verb;
  attrs.group = kGroup;
  attrs.resource = kResource;
  attrs.name = name;
  absl::StatusOr<kube::AccessDecision> decision = kube_->ReviewAccess(user, attrs);
  if (!decision.ok()) {
    return absl::UnavailableError(absl::StrCat("cannot authorize: the SubjectAccessReview failed (",
                                               decision.status().message(), ")"));
  }
  if (decision->allowed) return absl::OkStatus();
  std::string what =
      absl::StrCat("user \"", user.username, "\" may not ", verb, " ", kResource, ".", kGroup);
  if (!name.empty()) absl::StrAppend(&what, " \"", name, "\"");
  absl::StrAppend(&what,
                  ns.empty() ? " at cluster scope" : absl::StrCat(" in namespace \"", ns, "\""));
  std::string reason = decision->reason;
  if (reason.empty()) reason = decision->evaluation_error;
  if (reason.empty()) reason = "no RBAC rule allows it";
  return absl::PermissionDeniedError(absl::StrCat(what, ": ", reason));
}

}  // namespace kdbg::controller
